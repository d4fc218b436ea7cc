#pragma once
// coil::event: a manual-reset event for coroutines (like a latch that can be re-armed).
//
//     coil::event ready;
//     ...  co_await ready.wait();   // result<void>: empty once set, operation_canceled if cancelled
//     ...  ready.set();             // wakes every waiter; later waits complete at once
//     ...  ready.reset();           // later waits park again
//
// Result: wait() yields an empty result once the event is set (at once if it is set already), or
// std::errc::operation_canceled if the task's cancel token fired first (checked before anything
// else: a cancelled task does not pass a set event). A waiter that set() released completes with
// success even if it is cancelled before it runs (cancellation is a request; the set won).
// Fairness: set() releases every waiter parked at that moment, in the order they parked; a
// reset() right after set() does not take the wake back.
// Threading: set(), reset(), is_set() and wait() may be called from any thread; a waiter always
// resumes on its own loop's thread (directly when set() runs there, through event_loop::post
// otherwise). State is guarded by a std::mutex (see runtime/sync/detail/waiter.hpp for why not
// a spinlock, and for the wake protocol). A parked waiter holds an event_loop::external_work on
// its loop, so run() does not report a deadlock while it waits for another thread (a wait that
// nothing will ever end therefore hangs instead of throwing; on a paused-clock loop, timers do
// not auto-advance while a task waits here).
// Lifetime: the event must outlive every wait on it (destroying it with waiters parked is a
// programmer error: asserted in debug builds). A waiting task may be destroyed at any time; its
// waiter is unlinked safely.

#include <cassert>
#include <coroutine>
#include <mutex>

#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/sync/detail/sync_awaitable.hpp"
#include "coil/runtime/sync/detail/waiter.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

class event {
public:
    /// Starts reset (not set) unless `initially_set`.
    explicit event(bool initially_set = false) noexcept : set_(initially_set) {}
    event(const event&) = delete;
    event& operator=(const event&) = delete;
    ~event() { assert(waiters_.empty() && "coil::event destroyed while tasks wait on it"); }

    /// Sets the event and wakes every parked waiter. Any thread.
    void set() noexcept {
        std::lock_guard lock(mutex_);
        set_ = true;
        while (detail::grant_first(waiters_) != nullptr) {
        }
    }
    /// Clears the event: later waits park until the next set(). Any thread.
    void reset() noexcept {
        std::lock_guard lock(mutex_);
        set_ = false;
    }
    [[nodiscard]] bool is_set() const noexcept {
        std::lock_guard lock(mutex_);
        return set_;
    }

    class [[nodiscard]] wait_awaitable
        : public detail::sync_awaitable<wait_awaitable> {
    public:
        explicit wait_awaitable(event& e) noexcept : event_(e) {}
        wait_awaitable(wait_awaitable&&) noexcept = default;
        // No destructor: an event's wake has nothing to give back.

        result<void> await_resume() noexcept {
            if (ended_by_cancel()) return std::errc::operation_canceled;
            return {};
        }

    private:
        friend detail::sync_awaitable<wait_awaitable>;
        std::mutex& sync_mutex() noexcept { return event_.mutex_; }
        detail::waiter_list& waiters() noexcept { return event_.waiters_; }
        detail::attempt try_take_locked() const noexcept {
            return event_.set_ ? detail::attempt::taken : detail::attempt::park;
        }

        event& event_;
    };

    /// Waits until the event is set (see the top of this file).
    wait_awaitable wait() noexcept { return wait_awaitable(*this); }

private:
    mutable std::mutex mutex_;
    detail::waiter_list waiters_;
    bool set_;
};

}  // namespace coil
