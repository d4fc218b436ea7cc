#pragma once
// with_timeout / with_deadline: bound any awaitable in time by cancelling it when the deadline
// passes.
//
//     auto n = co_await coil::with_timeout(coil::recv(fd, buf), 2s);          // result<size_t>
//     auto m = co_await coil::with_deadline(coil::recv(fd, buf), deadline);   // same, absolute
//
// Result: for an awaitable that yields result<T>: that result, except that an
// operation_canceled caused by the deadline becomes coil::errc::timed_out ("deadline expired";
// it compares equal to std::errc::timed_out, see errc.hpp). If the operation completed anyway (it
// won the race with the cancel), its real result is returned: nothing it produced is lost. For an
// awaitable that yields a coil::transfer_result (tcp_stream::send_all, recv_exact): that
// transfer_result, with its count of bytes that went through; an operation_canceled caused by the
// deadline becomes coil::errc::timed_out, and a transfer that completed anyway is a success. For
// an awaitable yielding any other plain T (or void): result<T> holding the value, or
// coil::errc::timed_out if the deadline passed before it finished (the value is then dropped).
// Time: on the loop's clock (event_loop::now(), manual under loop_options::paused_clock);
// with_timeout measures its limit from when it is awaited, rounded up to whole nanoseconds. Any
// duration (any rep and period) or time point is valid: one later than the clock can represent
// (nanoseconds::max(), hours::max(), time_point::max()) saturates to "never" (no timer is armed);
// a zero or negative limit, or a deadline already past, expires at once: the awaitable is still
// started, and cancelled in the loop's next turn, so an operation that completes without waiting
// returns its result and any other ends timed_out. See detail/deadline.hpp.
// Cancellation: the deadline is a cancel request to the awaitable, through the task's token
// chain; the awaitable is always awaited to its end, so with_timeout returns only once nothing of
// it is still running. A cancellation of the caller reaches the awaitable too (and is reported as
// operation_canceled, not as a timeout), and so does a task's own token (set_cancel_token): the
// task runs under both with_timeout's scope and its own token.
// Exceptions thrown by the awaitable propagate.

#include <chrono>
#include <type_traits>
#include <utility>

#include "coil/runtime/cancel.hpp"
#include "coil/runtime/detail/awaitable_traits.hpp"
#include "coil/runtime/detail/deadline.hpp"
#include "coil/runtime/detail/timer_heap.hpp"
#include "coil/runtime/errc.hpp"
#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"
#include "coil/runtime/transfer_result.hpp"

namespace coil {

namespace detail {

// A timer that requests cancellation of a scope when it fires.
class deadline_timer : timer_node {
public:
    deadline_timer(event_loop& loop, clock::time_point at, cancel_source& scope)
        : loop_(loop), scope_(scope) {
        deadline = at;
        fire = &on_fire;
        loop_.arm_timer(*this);  // not armed if `at` never expires
    }
    deadline_timer(const deadline_timer&) = delete;
    deadline_timer& operator=(const deadline_timer&) = delete;
    ~deadline_timer() { loop_.disarm_timer(*this); }

    [[nodiscard]] bool expired() const noexcept { return expired_; }

private:
    static void on_fire(timer_node& node) noexcept {
        auto& self = static_cast<deadline_timer&>(node);
        self.expired_ = true;
        self.scope_.request_cancel();
    }

    event_loop& loop_;
    cancel_source& scope_;
    bool expired_ = false;
};

// A deadline given either relative to when it is awaited (with_timeout) or absolute.
struct deadline_spec {
    clock::time_point at{};
    clock::duration limit{};
    bool relative = false;

    [[nodiscard]] clock::time_point resolve(const event_loop& loop) const noexcept {
        return relative ? saturating_add(loop.now(), limit) : at;
    }
};

template <class R>
struct timeout_result {
    using type = result<R>;
};
template <class T>
struct timeout_result<result<T>> {
    using type = result<T>;
};
template <>
struct timeout_result<transfer_result> {
    using type = transfer_result;  // its count must survive the deadline
};

}  // namespace detail

template <class Awaitable>
using with_timeout_result_t =
    typename detail::timeout_result<detail::await_result_t<Awaitable>>::type;

namespace detail {

template <class Awaitable>
task<with_timeout_result_t<Awaitable>> run_with_deadline(Awaitable awaitable, deadline_spec spec) {
    using R = await_result_t<Awaitable>;
    const cancel_token parent = co_await current_cancel_token();
    cancel_source scope(parent);
    event_loop& loop = event_loop::current_or_throw();
    deadline_timer timer(loop, spec.resolve(loop), scope);
    auto inner = as_task(std::move(awaitable));
    inner.inherit_cancel_token(scope.token());  // combined with a task's own token, if any

    if constexpr (std::is_void_v<R>) {
        co_await std::move(inner);
        if (timer.expired() && !parent.cancel_requested()) co_return errc::timed_out;
        co_return result<void>{};
    } else if constexpr (is_result_v<R>) {
        R outcome = co_await std::move(inner);
        if (!outcome && outcome.error() == std::errc::operation_canceled && timer.expired() &&
            !parent.cancel_requested()) {
            co_return errc::timed_out;
        }
        co_return outcome;
    } else if constexpr (std::is_same_v<R, transfer_result>) {
        // Like result<T>, and the count of bytes that went through is kept either way.
        R outcome = co_await std::move(inner);
        if (!outcome && outcome.error() == std::errc::operation_canceled && timer.expired() &&
            !parent.cancel_requested()) {
            co_return transfer_result(outcome.transferred(), make_error_code(errc::timed_out));
        }
        co_return outcome;
    } else {
        R value = co_await std::move(inner);
        if (timer.expired() && !parent.cancel_requested()) co_return errc::timed_out;
        co_return result<R>(std::move(value));
    }
}

}  // namespace detail

/// Awaits `awaitable`, cancelling it `limit` after this is awaited (see the top of this file).
template <class Awaitable, class Rep, class Period>
task<with_timeout_result_t<Awaitable>> with_timeout(Awaitable awaitable,
                                                    std::chrono::duration<Rep, Period> limit) {
    detail::deadline_spec spec;
    spec.limit = detail::to_clock_duration(limit);
    spec.relative = true;
    return detail::run_with_deadline(std::move(awaitable), spec);
}

/// Awaits `awaitable`, cancelling it at `deadline` on the loop's clock (see the top of this file).
template <class Awaitable, class Duration>
task<with_timeout_result_t<Awaitable>> with_deadline(
    Awaitable awaitable, std::chrono::time_point<detail::clock, Duration> deadline) {
    detail::deadline_spec spec;
    spec.at = detail::to_clock_time_point(deadline);
    return detail::run_with_deadline(std::move(awaitable), spec);
}

}  // namespace coil
