#pragma once
// coil::tcp_listener: a listening TCP socket that accepts connections with co_await.
//
//     auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0)).value();
//     for (;;) {
//         auto conn = co_await listener.accept();     // result<tcp_stream>
//         ...
//     }
//
// Result: accept yields a connected stream (non-blocking, close-on-exec), or the OS error.
// Accepting, closing, cancellation, lifetime and threading are coil::listening_socket's
// (net/listening_socket.hpp), shared with unix_listener: on io_uring one multishot accept serves
// all accept() calls; EMFILE/ENFILE and ECONNABORTED are ordinary results (back off, keep
// serving); closing the listener ends the accepts waiting in other tasks with operation_canceled.

#include <sys/socket.h>

#include <utility>

#include "coil/net/ip_endpoint.hpp"
#include "coil/net/listening_socket.hpp"
#include "coil/net/tcp_stream.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

struct listen_options {
    int backlog = SOMAXCONN;   ///< the kernel caps it at net.core.somaxconn
    bool reuse_address = true; ///< SO_REUSEADDR: rebind while old connections are in TIME_WAIT
    bool reuse_port = false;   ///< SO_REUSEPORT: several listeners (threads) on one port
    bool v6_only = false;      ///< IPV6_V6ONLY for an IPv6 endpoint
};

class tcp_listener : public listening_socket {
public:
    tcp_listener() noexcept = default;

    /// socket + setsockopt + bind + listen. Needs the thread's event loop (for the fd owner).
    static result<tcp_listener> bind(const ip_endpoint& endpoint, const listen_options& options = {});

    /// Waits for and accepts one connection.
    task<result<tcp_stream>> accept();

    /// The bound address, with the port the kernel chose for port 0.
    [[nodiscard]] ip_endpoint local_endpoint() const noexcept { return local_; }

private:
    tcp_listener(unique_fd fd, const ip_endpoint& local) : listening_socket(std::move(fd)), local_(local) {}

    ip_endpoint local_;
};

}  // namespace coil
