#include "coil/net/unix_stream.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>

#include "coil/runtime/errc.hpp"

namespace coil {
namespace {

result<unix_endpoint> endpoint_of(int fd, int (*getname)(int, sockaddr*, socklen_t*)) {
    sockaddr_un addr{};
    socklen_t len = sizeof addr;
    if (getname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return errno_code(errno);
    return unix_endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&addr), len);
}

}  // namespace

result<std::pair<unix_stream, unix_stream>> unix_stream::pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
        return errno_code(errno);
    }
    unique_fd a(fds[0]);
    unique_fd b(fds[1]);  // both owned before either stream is made (which may throw)
    return std::pair{unix_stream(std::move(a)), unix_stream(std::move(b))};
}

result<unix_credentials> unix_stream::peer_credentials() const noexcept {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return errno_code(errno);
    return unix_credentials{cred.pid, cred.uid, cred.gid};
}

result<unix_endpoint> unix_stream::local_endpoint() const { return endpoint_of(native_handle(), ::getsockname); }
result<unix_endpoint> unix_stream::peer_endpoint() const { return endpoint_of(native_handle(), ::getpeername); }

}  // namespace coil
