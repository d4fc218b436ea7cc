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

result<void> tcp_stream::set_nodelay(bool on) const noexcept {
    const int value = on ? 1 : 0;
    if (::setsockopt(native_handle(), IPPROTO_TCP, TCP_NODELAY, &value, sizeof value) != 0) {
        return errno_code(errno);
    }
    return {};
}

result<ip_endpoint> tcp_stream::local_endpoint() const { return endpoint_of(native_handle(), ::getsockname); }
result<ip_endpoint> tcp_stream::peer_endpoint() const { return endpoint_of(native_handle(), ::getpeername); }

}  // namespace coil
