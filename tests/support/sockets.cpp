#include "support/sockets.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace coil::testing {
namespace {

void require(bool ok, const char* what) {
    if (!ok) {
        ADD_FAILURE() << what << " failed: " << std::strerror(errno);
        std::abort();
    }
}

}  // namespace

listener listen_loopback() {
    listener l;
    l.fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    require(l.fd.valid(), "socket");
    l.address.sin_family = AF_INET;
    l.address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    l.address.sin_port = 0;
    require(::bind(l.fd.get(), reinterpret_cast<sockaddr*>(&l.address), sizeof l.address) == 0, "bind");
    require(::listen(l.fd.get(), SOMAXCONN) == 0, "listen");
    socklen_t len = sizeof l.address;
    require(::getsockname(l.fd.get(), reinterpret_cast<sockaddr*>(&l.address), &len) == 0,
            "getsockname");
    return l;
}

unique_fd connect_blocking(const sockaddr_in& address) {
    unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    require(fd.valid(), "socket");
    require(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0,
            "connect");
    return fd;
}

void occupy_fd_zero() {
    if (fd_is_open(0)) return;
    const int fd = ::open("/dev/null", O_RDONLY);  // lowest free number: 0
    if (fd > 0) {
        ::dup2(fd, 0);
        ::close(fd);
    }
}

bool fd_is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

unsigned accept_queue_length(int listen_fd) {
    tcp_info info{};
    socklen_t len = sizeof info;
    if (::getsockopt(listen_fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return ~0u;
    return info.tcpi_unacked;
}

socket_pair make_socket_pair() {
    int fds[2];
    require(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0,
            "socketpair");
    return {unique_fd(fds[0]), unique_fd(fds[1])};
}

}  // namespace coil::testing
