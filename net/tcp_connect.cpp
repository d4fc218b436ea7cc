#include "coil/net/tcp_connect.hpp"

#include <sys/socket.h>

#include <cerrno>

#include "coil/net/resolve.hpp"
#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/io.hpp"
#include "coil/runtime/with_timeout.hpp"

namespace coil {

task<result<tcp_stream>> tcp_connect(ip_endpoint endpoint, std::chrono::nanoseconds timeout) {
    unique_fd fd(::socket(endpoint.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) co_return errno_code(errno);
    auto connected = co_await with_timeout(coil::connect(fd.get(), endpoint.data(), endpoint.size()), timeout);
    if (!connected) co_return connected.error();
    co_return tcp_stream(std::move(fd));
}

task<result<tcp_stream>> tcp_connect(std::string host, std::uint16_t port,
                                     std::chrono::nanoseconds timeout) {
    event_loop& loop = event_loop::current_or_throw();
    const auto deadline = detail::saturating_add(loop.now(), timeout);
    auto endpoints = co_await with_deadline(resolve(std::move(host), std::to_string(port)), deadline);
    if (!endpoints) co_return endpoints.error();
    std::error_code last;
    for (const ip_endpoint& endpoint : *endpoints) {
        const std::chrono::nanoseconds left = detail::never_expires(deadline)
                                                  ? std::chrono::nanoseconds::max()
                                                  : deadline - loop.now();
        auto stream = co_await tcp_connect(endpoint, left);
        if (stream) co_return std::move(*stream);
        last = stream.error();
        // Out of time or cancelled: the other addresses would end the same way.
        if (last == std::errc::timed_out || last == std::errc::operation_canceled) break;
    }
    co_return last;
}

}  // namespace coil
