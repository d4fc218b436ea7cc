#include "coil/net/tcp_listener.hpp"

#include <netinet/in.h>

#include <cerrno>

#include "coil/runtime/io.hpp"

namespace coil {
namespace {

result<void> set_flag(int fd, int level, int name, bool on) {
    const int value = on ? 1 : 0;
    if (::setsockopt(fd, level, name, &value, sizeof value) != 0) return errno_code(errno);
    return {};
}

}  // namespace

result<tcp_listener> tcp_listener::bind(const ip_endpoint& endpoint, const listen_options& options) {
    unique_fd fd(::socket(endpoint.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return errno_code(errno);
    if (auto r = set_flag(fd.get(), SOL_SOCKET, SO_REUSEADDR, options.reuse_address); !r) return r.error();
    if (options.reuse_port) {
        if (auto r = set_flag(fd.get(), SOL_SOCKET, SO_REUSEPORT, true); !r) return r.error();
    }
    if (endpoint.is_v6()) {
        if (auto r = set_flag(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, options.v6_only); !r) return r.error();
    }
    if (::bind(fd.get(), endpoint.data(), endpoint.size()) != 0) return errno_code(errno);
    if (::listen(fd.get(), options.backlog) != 0) return errno_code(errno);

    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len) != 0) return errno_code(errno);
    return tcp_listener(std::move(fd),
                        ip_endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&bound), len).value_or(endpoint));
}

task<result<tcp_stream>> tcp_listener::accept() {
    auto conn = co_await accept_fd();
    if (!conn) co_return conn.error();
    co_return tcp_stream(std::move(*conn));
}

}  // namespace coil
