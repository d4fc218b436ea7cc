#pragma once
// coil::interval: a periodic timer on the loop's clock.
//
//     coil::interval every(1s);                         // first tick at once, then every second
//     for (;;) {
//         auto at = co_await every.tick();              // result<clock::time_point>
//         if (!at) break;                               // operation_canceled
//         refresh_stats();
//     }
//
// Ticks: tick() completes at the next scheduled tick time (at once if it is due already) and
// yields that scheduled time (not the time it actually ran). Ticks are scheduled at start,
// start + period, start + 2 period, ... on event_loop::now(); the default start is when the
// interval is made (first tick at once), as in tokio::time::interval.
// Missed ticks: a tick is missed when, by the time tick() delivers one, the following one is
// already due (the caller was busy for a period or more). What happens next is the policy
// (tokio's MissedTickBehavior, docs.rs/tokio/latest/tokio/time/enum.MissedTickBehavior.html):
// - burst (default): every missed tick is delivered, back to back and without waiting, until the
//   schedule has caught up; the schedule keeps its phase (start + k period).
// - delay: the next tick is one period after the late one was delivered; the schedule shifts.
// - skip: the missed ticks are dropped; the next tick is the first one of the original schedule
//   strictly after now, so the phase is kept.
// A tick that is late by less than a period is not missed: the next one stays on the schedule.
// Cancellation: tick() honours the awaiting task's cancel token: it then yields
// operation_canceled at once and the interval is unchanged (that tick is still pending).
// Lifetime: the interval must outlive the co_await on its tick(). One tick() at a time.
// Threading: the loop's thread only; made and used on the same loop.

#include <chrono>
#include <coroutine>
#include <stdexcept>

#include "coil/runtime/detail/deadline.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/sleep.hpp"

namespace coil {

enum class missed_tick_behavior { burst, delay, skip };

class interval {
public:
    /// Ticks every `period` (> 0, else std::invalid_argument), the first one at now().
    explicit interval(clock::duration period, missed_tick_behavior missed = missed_tick_behavior::burst)
        : interval(coil::now(), period, missed) {}
    /// Ticks at `start`, start + period, ...
    interval(clock::time_point start, clock::duration period,
             missed_tick_behavior missed = missed_tick_behavior::burst)
        : next_(start), period_(period), missed_(missed) {
        if (period <= clock::duration::zero()) {
            throw std::invalid_argument("coil::interval: period must be > 0");
        }
    }

    [[nodiscard]] clock::duration period() const noexcept { return period_; }
    [[nodiscard]] missed_tick_behavior missed_tick() const noexcept { return missed_; }
    void set_missed_tick(missed_tick_behavior missed) noexcept { missed_ = missed; }
    /// When the next tick is scheduled.
    [[nodiscard]] clock::time_point next_tick() const noexcept { return next_; }
    /// Restarts the schedule: the next tick one period from now.
    void reset() noexcept { next_ = detail::saturating_add(coil::now(), period_); }

    class [[nodiscard]] tick_awaitable {
    public:
        explicit tick_awaitable(interval& owner) noexcept : owner_(&owner), sleep_(owner.next_) {}
        bool await_ready() const noexcept { return false; }
        template <class P>
        bool await_suspend(std::coroutine_handle<P> awaiting) {
            return sleep_.await_suspend(awaiting);
        }
        result<clock::time_point> await_resume() noexcept {
            auto slept = sleep_.await_resume();
            if (!slept) return slept.error();
            return owner_->deliver(coil::now());
        }

    private:
        interval* owner_;
        sleep_awaitable sleep_;
    };

    /// Waits for the next tick; see the top of this file.
    tick_awaitable tick() noexcept { return tick_awaitable(*this); }

private:
    // The tick scheduled at next_ is delivered at `now`: returns it and schedules the next one.
    clock::time_point deliver(clock::time_point now) noexcept {
        const clock::time_point due = next_;
        const clock::time_point following = detail::saturating_add(due, period_);
        if (now < following) {
            next_ = following;  // on time, or late by less than a period: not missed
            return due;
        }
        switch (missed_) {
            case missed_tick_behavior::burst: next_ = following; break;
            case missed_tick_behavior::delay: next_ = detail::saturating_add(now, period_); break;
            case missed_tick_behavior::skip: {
                const auto behind = (now - due) / period_;  // whole periods since `due`, >= 1
                next_ = detail::saturating_add(due, period_ * (behind + 1));
                break;
            }
        }
        return due;
    }

    clock::time_point next_;
    clock::duration period_;
    missed_tick_behavior missed_;
};

}  // namespace coil
