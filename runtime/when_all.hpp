#pragma once
// when_all: run tasks concurrently and wait for all of them.
//
//     auto [a, b] = co_await coil::when_all(fetch(x), fetch(y));
//     std::vector<int> all = co_await coil::when_all(std::move(tasks));
//
// Result: the values in argument order (a task<void> contributes std::monostate). If any child
// threw, the first exception in argument order is rethrown, after all children have finished.
// Cancellation: the children run under the caller's cancel token; a child with a token of its own
// (set_cancel_token) runs under both and ends when either is cancelled. when_all does not cancel
// siblings when one fails; use task_group for that.
// Awaitables: besides tasks, any awaitable (an I/O op such as coil::recv(fd, buf), a stream's
// send_all) may be passed, each run in a task of its own; it starts when when_all is awaited.
// Threading: the children run on the caller's loop.

#include <array>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "coil/runtime/detail/awaitable_traits.hpp"
#include "coil/runtime/detail/join.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

namespace detail {
template <class T>
using value_or_monostate_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
value_or_monostate_t<T> take_value(task<T>& t) {
    if constexpr (std::is_void_v<T>) {
        t.take_result();
        return {};
    } else {
        return t.take_result();
    }
}
}  // namespace detail

template <class... T>
task<std::tuple<detail::value_or_monostate_t<T>...>> when_all(task<T>... tasks) {
    const cancel_token token = co_await current_cancel_token();
    (tasks.inherit_cancel_token(token), ...);
    detail::join_state state;
    std::array<detail::join_child, sizeof...(T)> children{detail::run_joined(tasks)...};
    for (std::size_t i = 0; i < children.size(); ++i) children[i].bind(state, i);
    co_await detail::join_all_awaiter(state, children);
    // Braced initialisation evaluates left to right: the first exception in argument order wins.
    co_return std::tuple<detail::value_or_monostate_t<T>...>{detail::take_value(tasks)...};
}

/// Mixed tasks and other awaitables: each awaitable runs in a task of its own (see the top).
template <class... A>
    requires(sizeof...(A) >= 1 && (detail::awaitable<A> && ...) && (detail::non_task_awaitable<A> || ...))
auto when_all(A&&... awaitables) {
    return when_all(detail::as_task(std::forward<A>(awaitables))...);
}

template <class T>
task<std::vector<detail::value_or_monostate_t<T>>> when_all(std::vector<task<T>> tasks) {
    const cancel_token token = co_await current_cancel_token();
    detail::join_state state;
    std::vector<detail::join_child> children;
    children.reserve(tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        tasks[i].inherit_cancel_token(token);
        children.push_back(detail::run_joined(tasks[i]));
        children.back().bind(state, i);
    }
    co_await detail::join_all_awaiter(state, children);
    std::vector<detail::value_or_monostate_t<T>> values;
    values.reserve(tasks.size());
    for (auto& t : tasks) values.push_back(detail::take_value(t));
    co_return values;
}

}  // namespace coil
