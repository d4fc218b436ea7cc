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

// Both hold the stream's fd for their whole run (one count, not one per step): close() in
// another task then cancels the step in flight and stops the loop between steps, so the result is
// operation_canceled whichever point the transfer had reached, and the fd closes after it.
task<transfer_result> tcp_stream::send_all(std::span<const std::byte> buf) const {
    auto in_use = handle_.hold();
    std::size_t done = 0;
    while (done < buf.size()) {
        if (in_use.closing()) {
            co_return transfer_result(done, in_use.fd() < 0 ? make_error_code(std::errc::bad_file_descriptor)
                                                            : make_error_code(std::errc::operation_canceled));
        }
        auto sent = co_await coil::send(in_use.fd(), buf.subspan(done));
        if (!sent) co_return transfer_result(done, sent.error());
        done += *sent;
    }
    co_return transfer_result(done, {});
}

task<transfer_result> tcp_stream::recv_exact(std::span<std::byte> buf) const {
    auto in_use = handle_.hold();
    std::size_t done = 0;
    while (done < buf.size()) {
        if (in_use.closing()) {
            co_return transfer_result(done, in_use.fd() < 0 ? make_error_code(std::errc::bad_file_descriptor)
                                                            : make_error_code(std::errc::operation_canceled));
        }
        auto got = co_await coil::recv(in_use.fd(), buf.subspan(done));
        if (!got) co_return transfer_result(done, got.error());
        done += *got;
    }
    co_return transfer_result(done, {});
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
