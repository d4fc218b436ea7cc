#pragma once
// coil::tcp_connect: opens a TCP connection.
//
//     auto stream = co_await coil::tcp_connect(coil::ip_endpoint::loopback_v4(port), 2s);
//     auto named = co_await coil::tcp_connect("localhost", port, 2s);
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

#include <cstdint>
#include <string>

namespace coil {

task<result<tcp_stream>> tcp_connect(ip_endpoint endpoint, std::chrono::nanoseconds timeout);

/// By name: resolves `host` (coil::resolve, on the default thread pool; an address literal needs
/// no lookup) and tries each address in the order resolve returns them, one after the other, until
/// one connects. Not happy eyeballs (RFC 8305): no attempts race in parallel, so an address that
/// blackholes SYNs holds up the next one until the overall `timeout` runs out.
/// Result: the first connected stream; else a resolve error (resolve.hpp), or the last address's
/// error (connection_refused, ...); coil::errc::timed_out if `timeout`, which covers the lookup
/// and all the attempts together, passed first. Cancellation: operation_canceled.
task<result<tcp_stream>> tcp_connect(std::string host, std::uint16_t port,
                                     std::chrono::nanoseconds timeout);

template <class Rep, class Period>
task<result<tcp_stream>> tcp_connect(std::string host, std::uint16_t port,
                                     std::chrono::duration<Rep, Period> timeout) {
    return tcp_connect(std::move(host), port, detail::to_clock_duration(timeout));
}

/// Any other duration type: clamped to nanoseconds first (hours::max() would overflow in the
/// implicit conversion), then as above.
template <class Rep, class Period>
task<result<tcp_stream>> tcp_connect(ip_endpoint endpoint, std::chrono::duration<Rep, Period> timeout) {
    return tcp_connect(endpoint, detail::to_clock_duration(timeout));
}

}  // namespace coil
