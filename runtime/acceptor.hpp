#pragma once
// coil::acceptor: accepts the connections of a listening socket.
//
//     coil::acceptor connections(listen_fd);
//     auto fd = co_await connections.accept();     // result<unique_fd>
//
// On io_uring one multishot accept (Linux 5.19+) serves every accept() call: one submission, a
// completion per connection. Connections that arrive while nobody waits are queued (at most
// max_queued; past that the multishot pauses and the kernel's backlog holds the rest). On epoll,
// or where the kernel rejects multishot, each accept() is a plain accept.
// Result: a non-blocking, close-on-exec connection, or the OS error (EMFILE and friends are
// ordinary results: back off and retry).
// Cancellation: a cancelled accept() completes with operation_canceled; the multishot keeps
// running for the others. A connection accepted for nobody is closed, never leaked.
// Lifetime: `listen_fd` must outlive the acceptor. Destroying the acceptor ends every accept()
// still waiting with operation_canceled (both backends: the multishot's waiters and the plain
// accepts alike), cancels and drains the multishot, and closes the queued connections. The
// acceptor may outlive its event loop: the loop drains the multishot when it goes, and the
// acceptor is then safe to destroy, or to use on a later loop of the same thread
// (docs/lifetimes.md). Threading: loop thread only (accept() throws std::logic_error on a thread
// other than its loop's).

#include <cstddef>
#include <memory>

#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"
#include "coil/runtime/unique_fd.hpp"

namespace coil {

class acceptor {
public:
    static constexpr std::size_t max_queued = 64;

    /// Throws std::logic_error without an event loop on this thread.
    explicit acceptor(int listen_fd);
    acceptor() noexcept;
    acceptor(acceptor&&) noexcept;
    acceptor& operator=(acceptor&&) noexcept;
    ~acceptor();

    task<result<unique_fd>> accept();

private:
    struct state;
    std::unique_ptr<state> state_;
};

}  // namespace coil
