#include "coil/net/unix_connect.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>

#include "coil/runtime/io.hpp"
#include "coil/runtime/with_timeout.hpp"

namespace coil {

task<result<unix_stream>> unix_connect(unix_endpoint endpoint, std::chrono::nanoseconds timeout) {
    sockaddr_un addr{};  // in this frame: the kernel reads it while the connect is in flight
    socklen_t len = 0;
    if (auto r = endpoint.to_sockaddr(addr, len); !r) co_return r.error();
    unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) co_return errno_code(errno);
    auto connected =
        co_await with_timeout(coil::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len), timeout);
    if (!connected) co_return connected.error();
    co_return unix_stream(std::move(fd));
}

}  // namespace coil
