#pragma once
// coil::listening_socket: a listening stream socket's fd and its acceptor; the base of
// tcp_listener and unix_listener (one accept path, whatever the family).
//
// Result: accept_fd yields a connected socket (non-blocking, close-on-exec), or the OS error.
// On io_uring one multishot accept serves all accept calls (see runtime/acceptor.hpp).
// EMFILE/ENFILE (out of fds) and ECONNABORTED are ordinary results: a server should back off
// and keep serving, not stop.
// Cancellation: accept honours the task's cancel token; if the kernel had already accepted, the
// connection is returned (never leaked). Closing the listener (close() or destruction) while
// other tasks wait in accept ends each of those accepts with operation_canceled, on both
// backends (as Asio does; an accept loop stops on it), and the fd closes after them; an accept
// started after close() gets bad_file_descriptor.
// Lifetime: a listener may outlive its event loop (declared outside coil::run): it is safe to
// destroy afterwards, and usable on a later loop of the same thread (docs/lifetimes.md).
// Threading: loop thread only.
// Restart after a crash (io_uring): when a process dies without closing its listener, the
// kernel tears its ring down later, on a workqueue, and the armed multishot accept keeps the
// listening socket open until then (a few ms; measured up to ~50 ms on a loaded 2-core VM). A
// replacement started at once may get address_in_use for the port (SO_REUSEADDR does not cover
// a socket still listening) or the Unix path (it is still live). A clean exit (close, or the
// loop's destructor) has no such delay. Supervisors should retry the bind with a short back-off
// (systemd's RestartSec does this); epoll has no ring and releases the socket with the process.
// Not used on its own: its constructors are protected; the derived listener's accept() wraps
// accept_fd() in its stream type.
// Another loop's connection: accept_fd() yields the bare fd, bound to no loop yet (no backend
// state is kept for it until a stream is made of it). To serve it on another loop of a
// coil::loop_group (one acceptor handing connections out), pass the fd there (event_loop::post)
// and make the stream on that loop's thread (tcp_stream(std::move(fd))): a stream belongs to the
// loop on whose thread it is made. apps/loop_handoff.hpp does this.

#include <utility>

#include "coil/runtime/acceptor.hpp"
#include "coil/runtime/io_handle.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"
#include "coil/runtime/unique_fd.hpp"

namespace coil {

class listening_socket {
public:
    [[nodiscard]] int native_handle() const noexcept { return handle_.fd(); }
    [[nodiscard]] bool is_open() const noexcept { return handle_.valid(); }
    /// Waits for and accepts one connection: its fd, not yet bound to any loop (see above).
    /// Results, cancellation and closing as the derived listener's accept().
    task<result<unique_fd>> accept_fd();
    void close() noexcept {
        connections_ = acceptor();  // drains the multishot before the fd goes
        handle_.reset();
    }

protected:
    listening_socket() noexcept = default;
    /// Takes a bound, listening, non-blocking socket. Needs the thread's event loop (for the fd
    /// owner and the acceptor; std::logic_error without one).
    explicit listening_socket(unique_fd fd) : handle_(std::move(fd)), connections_(handle_.fd()) {}
    listening_socket(listening_socket&&) noexcept = default;
    listening_socket& operator=(listening_socket&&) noexcept = default;
    ~listening_socket() = default;

private:
    io_handle handle_;
    acceptor connections_;  // declared after handle_: destroyed (and drained) before it closes
};

}  // namespace coil
