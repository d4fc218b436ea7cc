#pragma once
// coil::switch_to(loop): move the awaiting coroutine onto another event loop's thread.
//
//     co_await coil::switch_to(group.loop(1));   // now on loop 1's thread
//     ...touch what loop 1 owns (spawn a task there, read its per-loop state)...
//     co_await coil::switch_to(home);            // back on the home loop's thread
//
// What it does: if `target` is the calling thread's loop, nothing (no suspension). Otherwise the
// coroutine suspends, event_loop::post hands it to `target` (one wake, MSG_RING or eventfd, see
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
// The home loop (the one the coroutine first left) counts as having external work
// (event_loop::external_work) from the hop away until the coroutine is back on it: its run()
// waits for the coroutine instead of reporting a task that can never finish (which would destroy
// the frame while it runs on the other thread). A loop with nothing else to do therefore simply
// waits, also when the coroutine never comes back.

#include <coroutine>

#include "coil/runtime/detail/ready_queue.hpp"
#include "coil/runtime/event_loop.hpp"

namespace coil {

namespace detail {
// Which coroutine frames are away from their home loop, and that loop's external_work guard
// (runtime/switch_to.cpp). Keyed by frame address: a frame keeps its address for its lifetime,
// and the hops of one coroutine are ordered by the posts between them.
/// On the thread leaving `from`: unless `frame` is away already (from its own home), `from` is its
/// home and holds external work until the frame is back. True if this call made it so.
bool note_left_home(void* frame, event_loop& from);
/// On `here`'s thread, after a hop: if `here` is the home `frame` left, it is back (released).
void note_arrived(void* frame, event_loop& here) noexcept;
/// Undoes note_left_home (the hop failed before it was posted).
void forget_left_home(void* frame) noexcept;
}  // namespace detail

class switch_to_awaitable {
public:
    explicit switch_to_awaitable(event_loop& target) noexcept : target_(&target) {}

    [[nodiscard]] bool await_ready() const noexcept { return event_loop::current() == target_; }
    void await_suspend(std::coroutine_handle<> h) {
        node_.handle = h;
        event_loop* from = event_loop::current();
        const bool left_home = from != nullptr && detail::note_left_home(h.address(), *from);
        // The node lives in the suspended frame, which nothing resumes or destroys until target
        // schedules it (see Cancellation above); schedule() must run on target's thread.
        try {
            target_->post([target = target_, node = &node_] { target->schedule(*node); });
        } catch (...) {
            if (left_home) detail::forget_left_home(h.address());
            throw;
        }
    }
    void await_resume() const noexcept {
        // Suspended (a hop happened): on target's thread now; back home if target is the home.
        if (node_.handle) detail::note_arrived(node_.handle.address(), *target_);
    }

private:
    event_loop* target_;
    detail::ready_node node_;
};

/// `co_await coil::switch_to(loop)`: resumes the awaiting coroutine on `loop`'s thread.
[[nodiscard]] inline switch_to_awaitable switch_to(event_loop& target) noexcept {
    return switch_to_awaitable(target);
}

}  // namespace coil
