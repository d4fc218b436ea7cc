#pragma once
// coil::tcp_connect: opens a TCP connection.
//
//     auto stream = co_await coil::tcp_connect(coil::ip_endpoint::loopback_v4(port), 2s);
//
// Result: a connected stream; coil::errc::timed_out ("deadline expired", == std::errc::timed_out)
// if the handshake did not finish within `timeout`; or the OS error (connection_refused,
// network_unreachable, and the kernel's own ETIMEDOUT, which also == std::errc::timed_out but
// != coil::errc::timed_out).
// Timeout: measured from when the task starts, on the loop's clock; any value is valid (it is
// clamped as with_timeout's limit is: nanoseconds::max() means no limit; zero or negative expires
// at once, so the connect ends timed_out unless it completed without waiting).
// Cancellation: honours the task's cancel token (operation_canceled).

#include <chrono>

#include "coil/net/ip_endpoint.hpp"
#include "coil/net/tcp_stream.hpp"
#include "coil/runtime/detail/deadline.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

task<result<tcp_stream>> tcp_connect(ip_endpoint endpoint, std::chrono::nanoseconds timeout);

/// Any other duration type: clamped to nanoseconds first (hours::max() would overflow in the
/// implicit conversion), then as above.
template <class Rep, class Period>
task<result<tcp_stream>> tcp_connect(ip_endpoint endpoint, std::chrono::duration<Rep, Period> timeout) {
    return tcp_connect(endpoint, detail::to_clock_duration(timeout));
}

}  // namespace coil
