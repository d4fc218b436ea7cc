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
        }
        return "unknown coil error " + std::to_string(value);
    }
};

}  // namespace

const std::error_category& coil_category() noexcept {
    static const category instance;
    return instance;
}

}  // namespace coil
