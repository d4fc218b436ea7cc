#include "coil/net/tcp_stream.hpp"

#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>

#include "coil/runtime/errc.hpp"

namespace coil {
namespace {

result<ip_endpoint> endpoint_of(int fd, int (*getname)(int, sockaddr*, socklen_t*)) {
    sockaddr_storage storage{};
    socklen_t len = sizeof storage;
    if (getname(fd, reinterpret_cast<sockaddr*>(&storage), &len) != 0) return errno_code(errno);
    auto e = ip_endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&storage), len);
    if (!e) return std::errc::address_family_not_supported;
    return *e;
}

}  // namespace

task<result<void>> tcp_stream::send_all(std::span<const std::byte> buf) const {
    while (!buf.empty()) {
        auto sent = co_await send(buf);
        if (!sent) co_return sent.error();
        buf = buf.subspan(*sent);
    }
    co_return result<void>{};
}

task<result<void>> tcp_stream::recv_exact(std::span<std::byte> buf) const {
    while (!buf.empty()) {
        auto got = co_await recv(buf);
        if (!got) co_return got.error();
        buf = buf.subspan(*got);
    }
    co_return result<void>{};
}

result<void> tcp_stream::shutdown(shutdown_how how) const noexcept {
    if (::shutdown(handle_.fd(), static_cast<int>(how)) != 0) return errno_code(errno);
    return {};
}

result<void> tcp_stream::set_nodelay(bool on) const noexcept {
    const int value = on ? 1 : 0;
    if (::setsockopt(handle_.fd(), IPPROTO_TCP, TCP_NODELAY, &value, sizeof value) != 0) {
        return errno_code(errno);
    }
    return {};
}

result<ip_endpoint> tcp_stream::local_endpoint() const { return endpoint_of(handle_.fd(), ::getsockname); }
result<ip_endpoint> tcp_stream::peer_endpoint() const { return endpoint_of(handle_.fd(), ::getpeername); }

}  // namespace coil
