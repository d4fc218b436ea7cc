#pragma once
// Timers on the monotonic clock, and yielding to other ready tasks.
//
//     co_await coil::sleep_for(50ms);                       // result<void>
//     co_await coil::yield();
//
// Result: sleep yields an empty result, or std::errc::operation_canceled if the task's cancel
// token fired first (the timer is then disarmed at once).
// Time: durations and deadlines are on the loop's clock (event_loop::now(): the monotonic clock,
// or the manual one under loop_options::paused_clock). sleep_for(d) measures d from when it is
// awaited, rounded up to whole nanoseconds. Any duration or time point is valid, with any rep and
// period: one later than the clock can represent (nanoseconds::max(), hours::max(),
// time_point::max(), ...) saturates to "never" (no timer is armed; only cancellation ends the
// sleep, and a loop with nothing else to do reports the deadlock, see event_loop::run). A zero
// or negative duration, or a deadline in the past, completes at once without suspending.
// See detail/deadline.hpp for the clamping.
// Ordering: timers that expire in the same turn fire in deadline order; equal deadlines in the
// order they were armed.
// Threading: loop thread only.

#include <chrono>
#include <coroutine>

#include "coil/runtime/cancel.hpp"
#include "coil/runtime/detail/deadline.hpp"
#include "coil/runtime/detail/ready_queue.hpp"
#include "coil/runtime/detail/timer_heap.hpp"
#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

using clock = detail::clock;

/// The current loop's clock (event_loop::now()); the monotonic clock on a thread without a loop.
inline clock::time_point now() noexcept {
    const event_loop* loop = event_loop::current();
    return loop != nullptr ? loop->now() : clock::now();
}

class [[nodiscard]] sleep_awaitable {
public:
    /// Wakes at `deadline` (clamped already: time_point::max() never expires).
    explicit sleep_awaitable(clock::time_point deadline) noexcept { state_.deadline = deadline; }
    /// Wakes `delay` after it is awaited (clamped already).
    explicit sleep_awaitable(clock::duration delay) noexcept : delay_(delay), relative_(true) {}
    sleep_awaitable(const sleep_awaitable& other) noexcept
        : delay_(other.delay_), relative_(other.relative_) {
        state_.deadline = other.state_.deadline;
    }
    sleep_awaitable& operator=(const sleep_awaitable&) = delete;
    ~sleep_awaitable() {
        if (state_.loop == nullptr) return;
        detail::cancel_state::unlink(state_);
        state_.loop->disarm_timer(state_);
        static_cast<detail::ready_node&>(state_).unlink();
    }

    bool await_ready() const noexcept { return false; }

    template <class P>
    bool await_suspend(std::coroutine_handle<P> awaiting) {
        detail::cancel_state* cancel = detail::cancel_state_of(awaiting);
        if (cancel && cancel->requested()) {
            state_.cancelled = true;
            return false;
        }
        event_loop& loop = event_loop::current_or_throw();
        const clock::time_point now = loop.now();
        if (relative_) state_.deadline = detail::saturating_add(now, delay_);
        if (state_.deadline <= now) return false;
        state_.loop = &loop;
        state_.handle = awaiting;
        state_.fire = &on_timer;
        loop.arm_timer(state_);
        if (cancel) {
            state_.on_cancel = &on_cancel;
            cancel->attach(state_);
        }
        return true;
    }

    result<void> await_resume() noexcept {
        detail::cancel_state::unlink(state_);
        if (state_.cancelled) return std::errc::operation_canceled;
        return {};
    }

private:
    struct state : detail::timer_node, detail::cancel_link, detail::ready_node {
        event_loop* loop = nullptr;
        bool cancelled = false;
    };
    static void on_timer(detail::timer_node& timer) noexcept {
        state& s = static_cast<state&>(timer);
        detail::cancel_state::unlink(s);
        s.loop->schedule(s);
    }
    static void on_cancel(detail::cancel_link& link) noexcept {
        state& s = static_cast<state&>(link);
        s.cancelled = true;
        s.loop->disarm_timer(s);
        s.loop->schedule(s);
    }

    state state_;
    clock::duration delay_{};
    bool relative_ = false;
};

/// Sleeps until `deadline` on the loop's clock (any precision; see the top of this file).
template <class Duration>
sleep_awaitable sleep_until(std::chrono::time_point<clock, Duration> deadline) noexcept {
    return sleep_awaitable(detail::to_clock_time_point(deadline));
}

/// Sleeps for `duration` from when it is awaited (any rep and period; see the top of this file).
template <class Rep, class Period>
sleep_awaitable sleep_for(std::chrono::duration<Rep, Period> duration) noexcept {
    return sleep_awaitable(detail::to_clock_duration(duration));
}

/// Lets every other ready task run (and I/O be polled) before this task continues.
class [[nodiscard]] yield_awaitable {
public:
    yield_awaitable() noexcept = default;
    yield_awaitable(const yield_awaitable&) noexcept {}
    yield_awaitable& operator=(const yield_awaitable&) = delete;
    ~yield_awaitable() { node_.unlink(); }

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> awaiting) {
        node_.handle = awaiting;
        event_loop::current_or_throw().schedule(node_);
    }
    void await_resume() const noexcept {}

private:
    detail::ready_node node_;
};

inline yield_awaitable yield() noexcept { return {}; }

}  // namespace coil
