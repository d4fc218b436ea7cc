#include "coil/runtime/errc.hpp"

#include <string>

namespace coil {
namespace {

class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "coil"; }
    std::string message(int value) const override {
        switch (static_cast<errc>(value)) {
            case errc::eof: return "end of stream";
            case errc::timed_out: return "deadline expired";
            case errc::line_too_long: return "line too long: no delimiter within the size limit";
            case errc::closed: return "channel or broadcast closed";
            case errc::lagged: return "receiver lagged: values were skipped";
        }
        return "unknown coil error " + std::to_string(value);
    }
    // Keeps `e == std::errc::timed_out` true for callers that test the portable condition.
    std::error_condition default_error_condition(int value) const noexcept override {
        if (static_cast<errc>(value) == errc::timed_out) return std::errc::timed_out;
        return {value, *this};
    }
};

}  // namespace

const std::error_category& coil_category() noexcept {
    static const category instance;
    return instance;
}

}  // namespace coil
