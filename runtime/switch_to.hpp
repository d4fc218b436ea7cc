#pragma once
// coil::switch_to(loop): move the awaiting coroutine onto another event loop's thread.
//
//     co_await coil::switch_to(group.loop(1));   // now on loop 1's thread
//     ...touch what loop 1 owns (spawn a task there, read its per-loop state)...
//     co_await coil::switch_to(home);            // back on the home loop's thread
//
// What it does: if `target` is the calling thread's loop, nothing (no suspension). Otherwise the
// coroutine suspends, event_loop::post hands it to `target` (an eventfd wake, about 10 us, see
// docs/threading.md), and it resumes on target's thread in a later turn of that loop.
// Threading: after the await, the coroutine's frame runs on target's thread; what it touches
// there must be safe on that thread. I/O objects (tcp_stream, tcp_listener, io_handle,
// signal_set, timers), cancel tokens and spawned tasks belong to the loop they were made on:
// do not use the home loop's ones while away, and do not await I/O or sleeps on the target loop
// under the home task's cancel token (the token belongs to the home loop's thread; its callbacks
// would run there while the operation runs here). To do I/O on another loop, spawn a task there
// (target.spawn from code running on target, or target.post from anywhere).
// A coroutine that switched away must switch back before it finishes: its caller resumes on the
// thread where it ends.
// Cancellation: none. The hand-off cannot be withdrawn once posted; the awaiting task must not be
// destroyed until it has resumed on `target`.
// Lifetime: `target` must be running (inside event_loop::run) and stay alive until the coroutine
// has resumed there; in a coil::loop_group that holds while any entry task is still running.

#include <coroutine>

#include "coil/runtime/detail/ready_queue.hpp"
#include "coil/runtime/event_loop.hpp"

namespace coil {

class switch_to_awaitable {
public:
    explicit switch_to_awaitable(event_loop& target) noexcept : target_(&target) {}

    [[nodiscard]] bool await_ready() const noexcept { return event_loop::current() == target_; }
    void await_suspend(std::coroutine_handle<> h) {
        node_.handle = h;
        // The node lives in the suspended frame, which nothing resumes or destroys until target
        // schedules it (see Cancellation above); schedule() must run on target's thread.
        target_->post([target = target_, node = &node_] { target->schedule(*node); });
    }
    void await_resume() const noexcept {}

private:
    event_loop* target_;
    detail::ready_node node_;
};

/// `co_await coil::switch_to(loop)`: resumes the awaiting coroutine on `loop`'s thread.
[[nodiscard]] inline switch_to_awaitable switch_to(event_loop& target) noexcept {
    return switch_to_awaitable(target);
}

}  // namespace coil
