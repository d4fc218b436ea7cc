#pragma once
// Plain-syscall socket helpers for runtime tests (the runtime layer has no address types):
// a non-blocking loopback listener on port 0, blocking client connects, socketpairs.

#include <netinet/in.h>

#include "coil/runtime/unique_fd.hpp"

namespace coil::testing {

struct listener {
    unique_fd fd;
    sockaddr_in address{};  // 127.0.0.1 and the port the kernel chose
};

/// A non-blocking TCP listener on 127.0.0.1, port 0. Aborts the test on failure.
listener listen_loopback();

/// A blocking client socket connected to `address` (loopback connects finish without accept).
unique_fd connect_blocking(const sockaddr_in& address);

/// Makes sure fd 0 is open (CI may start us without stdin) so that a stray close(0) shows.
void occupy_fd_zero();
/// Whether `fd` is open.
bool fd_is_open(int fd);

/// Connections waiting in a listening socket's accept queue (TCP_INFO's tcpi_unacked).
unsigned accept_queue_length(int listen_fd);

/// A non-blocking AF_UNIX stream socketpair.
struct socket_pair {
    unique_fd a;
    unique_fd b;
};
socket_pair make_socket_pair();

}  // namespace coil::testing
