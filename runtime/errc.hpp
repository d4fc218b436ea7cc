#pragma once
// coil's own error codes, for conditions that have no errno of their own.
//
// Cancellation uses the standard code std::errc::operation_canceled (ECANCELED).
//
// coil::errc::timed_out is a coil deadline that expired (with_timeout, with_deadline,
// tcp_connect's timeout): nothing in the kernel timed out, so its message says "deadline expired"
// rather than ETIMEDOUT's "Connection timed out". It still compares equal to the portable
// condition std::errc::timed_out (its default_error_condition), so `e == std::errc::timed_out`
// holds for both a coil deadline and a kernel ETIMEDOUT; `e == coil::errc::timed_out` holds for
// the coil deadline only.

#include <system_error>

namespace coil {

enum class errc {
    eof = 1,        ///< The peer closed its sending side (or the file ended): no more bytes will come.
    timed_out = 2,  ///< A coil deadline expired first (with_timeout & co.); == std::errc::timed_out.
    /// A delimited read (buffered_reader::read_until / read_line) found no delimiter within its
    /// `max` bytes. The bytes stay buffered; nothing was consumed.
    line_too_long = 3,
    /// The channel or broadcast was closed: a send is refused, or a receive found it closed and
    /// drained (runtime/sync/channel.hpp, broadcast.hpp).
    closed = 4,
    /// A broadcast receiver fell behind by more than the buffer holds: the oldest values it had
    /// not read were overwritten and skipped; its next receive yields the oldest value kept.
    lagged = 5,
};

/// The category of coil::errc; its name is "coil".
const std::error_category& coil_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), coil_category()};
}

}  // namespace coil

template <>
struct std::is_error_code_enum<coil::errc> : std::true_type {};
