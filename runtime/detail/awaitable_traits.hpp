#pragma once
// What an awaitable yields, and turning any awaitable into a task (so that a scope can give it a
// cancel token of its own).

#include <type_traits>
#include <utility>

#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"

namespace coil::detail {

template <class A>
decltype(auto) get_awaiter(A&& a) {
    if constexpr (requires { std::forward<A>(a).operator co_await(); }) {
        return std::forward<A>(a).operator co_await();
    } else {
        return std::forward<A>(a);
    }
}

/// Something co_await accepts directly (an awaiter, or a type with operator co_await).
template <class A>
concept awaitable = requires(A&& a) { std::forward<A>(a).operator co_await(); } ||
                    requires(std::remove_reference_t<A>& a) {
                        a.await_ready();
                        a.await_resume();
                    };

template <class T>
inline constexpr bool is_task_v = false;
template <class T>
inline constexpr bool is_task_v<task<T>> = true;

/// An awaitable that is not a task: the combinators run it in a task of their own (as_task).
template <class A>
concept non_task_awaitable = awaitable<A> && !is_task_v<std::remove_cvref_t<A>>;

template <class A>
using await_result_t = decltype(get_awaiter(std::declval<A>()).await_resume());

template <class T>
inline constexpr bool is_result_v = false;
template <class T>
inline constexpr bool is_result_v<result<T>> = true;

template <class T>
task<T> as_task(task<T> t) {
    return t;
}

template <class A>
task<await_result_t<A>> as_task(A awaitable) {
    if constexpr (std::is_void_v<await_result_t<A>>) {
        co_await std::move(awaitable);
    } else {
        co_return co_await std::move(awaitable);
    }
}

}  // namespace coil::detail
