#include "coil/net/udp_socket.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>

#include "coil/runtime/errc.hpp"
#include "coil/runtime/io.hpp"

namespace coil {
namespace {

result<void> set_flag(int fd, int level, int name, bool on) {
    const int value = on ? 1 : 0;
    if (::setsockopt(fd, level, name, &value, sizeof value) != 0) return errno_code(errno);
    return {};
}

result<ip_endpoint> endpoint_of(int fd, int (*getname)(int, sockaddr*, socklen_t*)) {
    sockaddr_storage storage{};
    socklen_t len = sizeof storage;
    if (getname(fd, reinterpret_cast<sockaddr*>(&storage), &len) != 0) return errno_code(errno);
    auto e = ip_endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&storage), len);
    if (!e) return std::errc::address_family_not_supported;
    return *e;
}

// One datagram out through sendmsg, never send: an empty datagram is a message, and only the
// message ops reach the kernel with 0 bytes (runtime/io.hpp). `to` null: the connected peer.
// msg, iov and the address live in the calling coroutine's frame until the op completes.
msghdr message_for(iovec& iov, const ip_endpoint* to) noexcept {
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (to != nullptr) {
        msg.msg_name = const_cast<sockaddr*>(to->data());
        msg.msg_namelen = to->size();
    }
    return msg;
}

}  // namespace

result<udp_socket> udp_socket::bind(const ip_endpoint& endpoint, const udp_options& options) {
    unique_fd fd(::socket(endpoint.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return errno_code(errno);
    if (options.reuse_address) {
        if (auto r = set_flag(fd.get(), SOL_SOCKET, SO_REUSEADDR, true); !r) return r.error();
    }
    if (options.reuse_port) {
        if (auto r = set_flag(fd.get(), SOL_SOCKET, SO_REUSEPORT, true); !r) return r.error();
    }
    if (endpoint.is_v6()) {
        // Explicit either way, so that the net.ipv6.bindv6only sysctl does not decide.
        if (auto r = set_flag(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, options.v6_only); !r) return r.error();
    }
    if (::bind(fd.get(), endpoint.data(), endpoint.size()) != 0) return errno_code(errno);
    return udp_socket(std::move(fd));
}

result<void> udp_socket::connect(const ip_endpoint& peer) const noexcept {
    // UDP connect(2) only records the peer: it never blocks, even on a non-blocking socket.
    if (::connect(handle_.fd(), peer.data(), peer.size()) != 0) return errno_code(errno);
    return {};
}

task<result<std::size_t>> udp_socket::send_to(std::span<const std::byte> buf, ip_endpoint to) const {
    iovec iov{const_cast<std::byte*>(buf.data()), buf.size()};
    msghdr msg = message_for(iov, &to);
    co_return co_await handle_.track(coil::sendmsg(handle_.fd(), msg));
}

task<result<std::size_t>> udp_socket::send(std::span<const std::byte> buf) const {
    iovec iov{const_cast<std::byte*>(buf.data()), buf.size()};
    msghdr msg = message_for(iov, nullptr);
    co_return co_await handle_.track(coil::sendmsg(handle_.fd(), msg));
}

task<result<datagram_info>> udp_socket::recv_from(std::span<std::byte> buf) const {
    iovec iov{buf.data(), buf.size()};
    sockaddr_storage from{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    // Both backends leave msg_namelen and msg_flags as recvmsg(2) does (io_uring's RECVMSG
    // writes them back into this msghdr before its completion).
    auto got = co_await handle_.track(coil::recvmsg(handle_.fd(), msg));
    if (!got) co_return got.error();
    datagram_info info;
    info.size = *got;
    info.truncated = (msg.msg_flags & MSG_TRUNC) != 0;
    auto sender = ip_endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&from), msg.msg_namelen);
    if (!sender) co_return make_error_code(std::errc::address_family_not_supported);
    info.sender = *sender;
    co_return info;
}

result<ip_endpoint> udp_socket::local_endpoint() const { return endpoint_of(handle_.fd(), ::getsockname); }
result<ip_endpoint> udp_socket::peer_endpoint() const { return endpoint_of(handle_.fd(), ::getpeername); }

}  // namespace coil
