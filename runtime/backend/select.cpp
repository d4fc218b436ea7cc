// Backend selection: COIL_BACKEND forces, else the caller's preference, else probe io_uring and
// fall back to epoll. The choice is logged once per process (and is queryable on every loop).

#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>

#include "coil/runtime/backend/backend.hpp"
#include "coil/runtime/log.hpp"

namespace coil {

std::string_view to_string(backend_kind kind) noexcept {
    switch (kind) {
        case backend_kind::io_uring: return "io_uring";
        case backend_kind::epoll: return "epoll";
    }
    return "?";
}

std::optional<backend_kind> parse_backend_kind(std::string_view name) noexcept {
    if (name == "io_uring" || name == "uring" || name == "io-uring") return backend_kind::io_uring;
    if (name == "epoll") return backend_kind::epoll;
    return std::nullopt;
}

std::vector<backend_kind> all_backend_kinds() { return {backend_kind::io_uring, backend_kind::epoll}; }

bool backend_available(backend_kind kind) {
    if (kind == backend_kind::epoll) return true;
    static const bool uring_ok = [] {
        detail::ready_queue scratch;
        std::string why;
        return detail::make_uring_backend(scratch, why) != nullptr;
    }();
    return uring_ok;
}

namespace detail {
namespace {

std::optional<backend_kind> forced_by_environment() {
    const char* value = std::getenv("COIL_BACKEND");
    if (value == nullptr || *value == '\0') return std::nullopt;
    if (auto kind = parse_backend_kind(value)) return kind;
    throw std::invalid_argument(std::string("COIL_BACKEND must be 'io_uring' or 'epoll', not '") +
                                value + "'");
}

void report_once(const backend& chosen, const std::string& reason) {
    static std::once_flag once;
    std::call_once(once, [&] {
        log(log_level::info, std::string("backend ") + std::string(to_string(chosen.kind())) +
                                 " (" + reason + "; " + chosen.description() + ")");
    });
}

}  // namespace

backend_choice make_backend(std::optional<backend_kind> preferred, ready_queue& ready) {
    std::optional<backend_kind> wanted;
    std::string source;
    if (auto forced = forced_by_environment()) {
        wanted = forced;
        source = "forced by COIL_BACKEND";
    } else if (preferred) {
        wanted = preferred;
        source = "configured";
    }

    backend_choice choice;
    if (wanted == backend_kind::epoll) {
        choice.chosen = make_epoll_backend(ready);
        choice.reason = source;
    } else {
        std::string why;
        choice.chosen = make_uring_backend(ready, why);
        if (choice.chosen) {
            choice.reason = wanted ? source : "probe: io_uring works";
        } else if (wanted) {
            throw std::system_error(std::make_error_code(std::errc::function_not_supported),
                                    "coil: io_uring was " + source + " but is unavailable: " + why);
        } else {
            choice.chosen = make_epoll_backend(ready);
            choice.reason = "io_uring unavailable: " + why + "; fell back to epoll";
        }
    }
    report_once(*choice.chosen, choice.reason);
    return choice;
}

}  // namespace detail
}  // namespace coil
