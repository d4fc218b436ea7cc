#pragma once
// coil::shield: run a task that the caller's cancellation does not reach.
//
//     auto sent = co_await coil::shield(conn.send_all(reply));   // finishes even during shutdown
//
// Result: the shielded task's value (or its exception), whatever happened to the caller's token
// meanwhile. The caller's own awaits after shield() still see the caller's cancellation.
// Cancellation: the task runs under no starter token at all: neither the caller's token, nor a
// when_any / with_timeout / task_group scope or the loop's spawn scope above it reaches it. A
// token of its own (task::set_cancel_token) still does, so a shielded step can be bounded
// separately, e.g. by its own deadline source. A with_timeout around shield() cancels nothing:
// it waits for the shielded task, then reports its value.
// Lifetime: the caller's frame awaits the shielded task; nothing is detached. Shield protects
// from cancellation, not from destruction: destroying the awaiting frame (destroying its task,
// the loop destroying its spawned tasks) destroys the shielded task with it, cancelling and
// draining its I/O first like any task (docs/lifetimes.md). So a shielded task never outlives its
// caller nor its loop. For a reply that must outlive its caller, spawn it (it then follows the
// loop's spawn scope instead). See docs/shutdown.md for the draining-shutdown pattern.
// Awaitables: shield also takes any other awaitable (an I/O op, a stream's send_all) and runs it
// in a task of its own.
// Threading: the caller's loop.

#include <utility>

#include "coil/runtime/cancel.hpp"
#include "coil/runtime/detail/awaitable_traits.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

template <class T>
task<T> shield(task<T> t) {
    // Entering the cancel scope with no starter token makes it final: the co_await below (and any
    // combinator) adds nothing, so the task follows only its own token, if it has one.
    t.inherit_cancel_token(cancel_token{});
    co_return co_await std::move(t);
}

inline task<void> shield(task<void> t) {
    t.inherit_cancel_token(cancel_token{});
    co_await std::move(t);
}

/// Any other awaitable: run in a task of its own, shielded.
template <detail::non_task_awaitable A>
auto shield(A&& awaitable) {
    return shield(detail::as_task(std::forward<A>(awaitable)));
}

}  // namespace coil
