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
// On io_uring one multishot accept serves all accept() calls (see runtime/acceptor.hpp).
// EMFILE/ENFILE (out of fds) and ECONNABORTED are ordinary results: a server should back off
// and keep serving, not stop.
// Cancellation: accept honours the task's cancel token; if the kernel had already accepted, the
// connection is returned (never leaked). Closing the listener (close() or destruction) while
// other tasks wait in accept() ends each of those accepts with operation_canceled, on both
// backends (as Asio does; an accept loop stops on it), and the fd closes after them; an accept()
// started after close() gets bad_file_descriptor.
// Lifetime: a listener may outlive its event loop (declared outside coil::run): it is safe to
// destroy afterwards, and usable on a later loop of the same thread (docs/lifetimes.md).
// Threading: loop thread only.

#include <sys/socket.h>

#include "coil/net/ip_endpoint.hpp"
#include "coil/net/tcp_stream.hpp"
#include "coil/runtime/acceptor.hpp"
#include "coil/runtime/io_handle.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

struct listen_options {
    int backlog = SOMAXCONN;   ///< the kernel caps it at net.core.somaxconn
    bool reuse_address = true; ///< SO_REUSEADDR: rebind while old connections are in TIME_WAIT
    bool reuse_port = false;   ///< SO_REUSEPORT: several listeners (threads) on one port
    bool v6_only = false;      ///< IPV6_V6ONLY for an IPv6 endpoint
};

class tcp_listener {
public:
    tcp_listener() noexcept = default;

    /// socket + setsockopt + bind + listen. Needs the thread's event loop (for the fd owner).
    static result<tcp_listener> bind(const ip_endpoint& endpoint, const listen_options& options = {});

    /// Waits for and accepts one connection.
    task<result<tcp_stream>> accept();

    /// The bound address, with the port the kernel chose for port 0.
    [[nodiscard]] ip_endpoint local_endpoint() const noexcept { return local_; }
    [[nodiscard]] int native_handle() const noexcept { return handle_.fd(); }
    [[nodiscard]] bool is_open() const noexcept { return handle_.valid(); }
    void close() noexcept {
        connections_ = acceptor();  // drains the multishot before the fd goes
        handle_.reset();
    }

private:
    io_handle handle_;
    acceptor connections_;  // declared after handle_: destroyed (and drained) before it closes
    ip_endpoint local_;
};

}  // namespace coil
