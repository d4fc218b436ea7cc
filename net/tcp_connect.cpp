#include "coil/net/tcp_connect.hpp"

#include <sys/socket.h>

#include <cerrno>

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

}  // namespace coil
