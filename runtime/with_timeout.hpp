#pragma once
// with_timeout: bounds any awaitable in time by cancelling it when the deadline passes.
//
//     auto n = co_await coil::with_timeout(coil::recv(fd, buf), 2s);   // result<std::size_t>
//
// Result: for an awaitable that yields result<T>: that result, except that an
// operation_canceled caused by the deadline becomes std::errc::timed_out. If the operation
// completed anyway (it won the race with the cancel), its real result is returned: nothing it
// produced is lost. For an awaitable yielding a plain T (or void): result<T> holding the value,
// or timed_out if the deadline passed before it finished (the value is then dropped).
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
#include "coil/runtime/detail/timer_heap.hpp"
#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

namespace detail {

// A timer that requests cancellation of a scope when it fires.
class deadline_timer : timer_node {
public:
    deadline_timer(event_loop& loop, clock::duration limit, cancel_source& scope)
        : loop_(loop), scope_(scope) {
        deadline = clock::now() + limit;
        fire = &on_fire;
        loop_.arm_timer(*this);
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

template <class R>
struct timeout_result {
    using type = result<R>;
};
template <class T>
struct timeout_result<result<T>> {
    using type = result<T>;
};

}  // namespace detail

template <class Awaitable>
using with_timeout_result_t =
    typename detail::timeout_result<detail::await_result_t<Awaitable>>::type;

template <class Awaitable, class Rep, class Period>
task<with_timeout_result_t<Awaitable>> with_timeout(Awaitable awaitable,
                                                    std::chrono::duration<Rep, Period> limit) {
    using R = detail::await_result_t<Awaitable>;
    const cancel_token parent = co_await current_cancel_token();
    cancel_source scope(parent);
    detail::deadline_timer timer(event_loop::current_or_throw(),
                                 std::chrono::ceil<detail::clock::duration>(limit), scope);
    auto inner = detail::as_task(std::move(awaitable));
    inner.inherit_cancel_token(scope.token());  // combined with a task's own token, if any

    if constexpr (std::is_void_v<R>) {
        co_await std::move(inner);
        if (timer.expired() && !parent.cancel_requested()) co_return std::errc::timed_out;
        co_return result<void>{};
    } else if constexpr (detail::is_result_v<R>) {
        R outcome = co_await std::move(inner);
        if (!outcome && outcome.error() == std::errc::operation_canceled && timer.expired() &&
            !parent.cancel_requested()) {
            co_return std::errc::timed_out;
        }
        co_return outcome;
    } else {
        R value = co_await std::move(inner);
        if (timer.expired() && !parent.cancel_requested()) co_return std::errc::timed_out;
        co_return result<R>(std::move(value));
    }
}

}  // namespace coil
