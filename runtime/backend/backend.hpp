#pragma once
// The narrow interface between the event loop and an I/O backend (io_uring or epoll).
//
// Nothing above runtime/backend/ sees liburing or epoll. A backend starts operations, cancels them
// on request, reaps completions into the loop's ready queue, and can be woken from another thread.
// Every backend implements every method; none "may abort".
// Threading: all methods but wake() are called on the loop's thread only.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "coil/runtime/backend_kind.hpp"
#include "coil/runtime/detail/buffer_pool.hpp"
#include "coil/runtime/detail/io_op.hpp"
#include "coil/runtime/detail/ready_queue.hpp"
#include "coil/runtime/loop_stats.hpp"

namespace coil::detail {

class backend {
public:
    virtual ~backend() = default;

    [[nodiscard]] virtual backend_kind kind() const noexcept = 0;

    /// Starts `op`. Returns true if it completed at once (op.res is set, nothing is queued);
    /// false if it is in flight: its completion will set op.res and push it on the ready queue.
    virtual bool start(io_op& op) noexcept = 0;

    /// Asks the kernel to cancel an in-flight op. Only a request: the op still completes once,
    /// with -ECANCELED or with the result it reached first.
    virtual void cancel(io_op& op) noexcept = 0;

    /// The op's owner is being destroyed. On return the kernel no longer uses the op, its buffer
    /// or its address arguments, and its completion will not be queued. A resource the op still
    /// produced (an accepted fd) has been closed.
    virtual void abandon(io_op& op) noexcept = 0;

    /// Submits what was started, waits up to `timeout` (nullopt: no limit; zero or negative:
    /// don't block; any positive count, up to nanoseconds::max(), is valid) for completions, and
    /// pushes the completed ops on the ready queue.
    virtual void poll(std::optional<std::chrono::nanoseconds> timeout) = 0;

    /// Makes a poll() in progress on the loop's thread return, or the next one if none is in
    /// progress. Callable from any thread.
    virtual void wake() noexcept = 0;

    /// Wakes from other threads use the eventfd even where a faster way exists (io_uring:
    /// IORING_OP_MSG_RING). Called before the loop is shared with other threads.
    virtual void use_eventfd_wake() noexcept = 0;

    /// How wake() reaches the loop: "eventfd" or "IORING_OP_MSG_RING".
    [[nodiscard]] virtual std::string_view wake_method() const noexcept = 0;

    /// `fd` will carry many operations (a connection) and coil owns it: it will be closed through
    /// coil (forget_fd first), never behind the backend's back. So the backend may register it
    /// (io_uring: a fixed file, sparing a file-reference round trip per op) and keep per-fd state
    /// (epoll: registration, readiness memory). Any state kept under this number before (a raw
    /// fd closed with ::close) must be dropped. Undone by forget_fd.
    virtual void register_fd(int fd) noexcept = 0;

    /// Requests cancellation of every in-flight op on `fd` (each still completes once).
    virtual void cancel_fd(int fd) noexcept = 0;

    /// `fd` is about to be closed: forget anything registered for it.
    virtual void forget_fd(int fd) noexcept = 0;

    /// Whether start() takes op_code::accept_multishot. The answer may turn false at run time
    /// (a kernel that rejects the multishot flag); the op then ends with -EINVAL.
    [[nodiscard]] virtual bool supports_multishot_accept() const noexcept = 0;

    /// Pooled receives: offers the loop's receive pool (made on the first recv_pooled). True: the
    /// backend feeds it to the kernel (io_uring: a provided buffer ring) and start() takes
    /// op_code::recv_multishot. False (epoll; io_uring without buffer rings, Linux < 5.19, or
    /// when registering fails): receives use op_code::recv_pooled. Called once per loop.
    virtual bool feed_buffer_pool(buffer_pool& pool) noexcept = 0;

    /// Whether start() takes op_code::recv_multishot now. May turn false at run time (a kernel
    /// with buffer rings but without multishot recv, 5.19: the op then ends with -EINVAL).
    [[nodiscard]] virtual bool supports_multishot_recv() const noexcept = 0;

    /// Ops started and not yet completed.
    [[nodiscard]] virtual std::size_t in_flight() const noexcept = 0;

    /// The backend's counters: loop_stats' syscall, submission and completion fields (the
    /// gauges are left 0; event_loop::stats() fills them). Plain increments on the loop thread.
    [[nodiscard]] virtual const loop_stats& stats() const noexcept = 0;

    /// One line for the log: what was set up (ring flags, ...).
    [[nodiscard]] virtual std::string description() const = 0;
};

struct backend_choice {
    std::unique_ptr<backend> chosen;
    std::string reason;  // why this backend: forced, configured, or what the probe found
};

/// Picks and constructs the backend: COIL_BACKEND forces one; else `preferred` if given; else
/// io_uring when its probe passes, epoll otherwise. Throws std::system_error if a forced or
/// preferred backend cannot be set up, std::invalid_argument for a bad COIL_BACKEND value.
backend_choice make_backend(std::optional<backend_kind> preferred, ready_queue& ready);

/// Set-up functions of the two backends. The io_uring one returns null and fills `why` when the
/// kernel (or seccomp, or a sysctl) refuses, or when coil was built without io_uring.
std::unique_ptr<backend> make_uring_backend(ready_queue& ready, std::string& why);
std::unique_ptr<backend> make_epoll_backend(ready_queue& ready);

}  // namespace coil::detail
