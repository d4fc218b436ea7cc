#pragma once
// coil's own error codes, for conditions that have no errno.
//
// Timeouts and cancellation use the standard codes: std::errc::timed_out (ETIMEDOUT) and
// std::errc::operation_canceled (ECANCELED), so they compare equal to what the kernel reports.

#include <system_error>

namespace coil {

enum class errc {
    eof = 1,  ///< The peer closed its sending side (or the file ended): no more bytes will come.
};

const std::error_category& coil_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), coil_category()};
}

}  // namespace coil

template <>
struct std::is_error_code_enum<coil::errc> : std::true_type {};
