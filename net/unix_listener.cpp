#include "coil/net/unix_listener.hpp"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>

#include "coil/runtime/errc.hpp"

namespace coil {
namespace {

// Does any socket still hold the socket file at `addr`? A datagram connect answers at once and
// creates no connection (a stream probe would: the live server would accept an empty one):
// ECONNREFUSED when no socket is bound to the file any more, EPROTOTYPE when a socket of another
// type (a stream listener) holds it, success when a datagram socket does. Only a refusal counts
// as stale.
bool refused(const sockaddr_un& addr, socklen_t len) noexcept {
    unique_fd probe(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!probe) return false;
    const int rc = ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), len);
    return rc != 0 && errno == ECONNREFUSED;
}

}  // namespace

unix_listener::unix_listener(unix_listener&& other) noexcept
    : listening_socket(std::move(other)),
      local_(std::move(other.local_)),
      dev_(other.dev_),
      ino_(other.ino_),
      owns_file_(std::exchange(other.owns_file_, false)) {}

unix_listener& unix_listener::operator=(unix_listener&& other) noexcept {
    if (this != &other) {
        close();
        listening_socket::operator=(std::move(other));
        local_ = std::move(other.local_);
        dev_ = other.dev_;
        ino_ = other.ino_;
        owns_file_ = std::exchange(other.owns_file_, false);
    }
    return *this;
}

unix_listener::~unix_listener() { remove_file(); }

void unix_listener::close() noexcept {
    listening_socket::close();
    remove_file();
}

void unix_listener::remove_file() noexcept {
    if (!std::exchange(owns_file_, false)) return;
    // Only the file we made: another server may have replaced it (after removing ours).
    struct stat st{};
    if (::lstat(local_.name().c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev_ &&
        st.st_ino == ino_) {
        ::unlink(local_.name().c_str());
    }
}

result<unix_listener> unix_listener::bind(const unix_endpoint& endpoint, int backlog) {
    sockaddr_un addr{};
    socklen_t len = 0;
    if (auto r = endpoint.to_sockaddr(addr, len); !r) return r.error();
    unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return errno_code(errno);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
        const int bind_error = errno;
        if (bind_error != EADDRINUSE || endpoint.is_abstract()) return errno_code(bind_error);
        // The path exists. Only a socket file whose socket is gone is removed; anything else
        // (a live socket, a regular file, a directory) stays, and the bind fails.
        struct stat st{};
        if (::lstat(endpoint.name().c_str(), &st) != 0) return errno_code(bind_error);
        if (!S_ISSOCK(st.st_mode) || !refused(addr, len)) return std::errc::address_in_use;
        if (::unlink(endpoint.name().c_str()) != 0 && errno != ENOENT) return errno_code(errno);
        if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) return errno_code(errno);
    }
    dev_t dev = 0;
    ino_t ino = 0;
    if (!endpoint.is_abstract()) {
        struct stat st{};
        if (::lstat(endpoint.name().c_str(), &st) == 0) {
            dev = st.st_dev;
            ino = st.st_ino;
        }
    }
    const bool owns_file = !endpoint.is_abstract();
    if (::listen(fd.get(), backlog) != 0) {
        const int listen_error = errno;
        if (owns_file) ::unlink(endpoint.name().c_str());  // ours, made by the bind just above
        return errno_code(listen_error);
    }
    return unix_listener(std::move(fd), endpoint, dev, ino);
}

task<result<unix_stream>> unix_listener::accept() {
    auto conn = co_await accept_fd();
    if (!conn) co_return conn.error();
    co_return unix_stream(std::move(*conn));
}

}  // namespace coil
