// Backend selection: COIL_BACKEND forces, else the caller's preference, else probe io_uring and
// fall back to epoll. The choice is logged once per process (and is queryable on every loop):
// at info level, off by default, since a working io_uring or a forced backend is nothing to
// report; a fallback to epoll at warning level, since it costs throughput and the reason
// (seccomp, kernel.io_uring_disabled, an old kernel) is something the operator may want to fix.

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
    throw std::invalid_argument(std::string("COIL_BACKEND must be 'io_uring' (or 'uring', 'io-uring') or 'epoll', not '") +
                                value + "'");
}

// Once per process for each kind of outcome, so that a fallback is reported even where an
// earlier loop's choice (at info level) was reported already.
void report_once(const backend& chosen, const std::string& reason, bool fell_back) {
    static std::once_flag chose_once;
    static std::once_flag fell_back_once;
    std::call_once(fell_back ? fell_back_once : chose_once, [&] {
        log(fell_back ? log_level::warning : log_level::info, std::string("backend ") + std::string(to_string(chosen.kind())) +
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
    bool fell_back = false;
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
            // In a build without io_uring (-Dio_uring=disabled) epoll is the only choice, not
            // a fallback worth a warning on every start.
            fell_back = COIL_IO_URING_BUILT != 0;
        }
    }
    report_once(*choice.chosen, choice.reason, fell_back);
    return choice;
}

}  // namespace detail
}  // namespace coil
