#pragma once
// when_any: run tasks concurrently; the first to finish wins, the others are cancelled.
//
//     auto first = co_await coil::when_any(read_reply(a), read_reply(b));
//     // first.index: which one won; first.value: its value
//
// Result: the index and value of the first task to finish (by value or by exception: a winner's
// exception is rethrown). Losers are cancelled through their cancel token and awaited before
// when_any returns, so nothing of them is still running; their results and exceptions are
// discarded. A task that ignores cancellation delays when_any until it finishes.
// Cancellation: cancelling the caller cancels all children. A child with a token of its own
// (set_cancel_token) runs under both when_any's scope and that token: cancelling its own token
// cancels that child only (it then finishes, typically with operation_canceled, and may win).
// Different value types: when_any(task<A>, task<B>, ...) with not all types the same yields a
// std::variant<A, B, ...> (std::monostate for void) whose index() is the winner's position and
// whose alternative holds its value (duplicate types are fine: the index tells them apart).
// Awaitables: besides tasks, any awaitable (an I/O op, a stream's send_all) may be passed, each
// run in a task of its own; a losing one is cancelled like a losing task.

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "coil/runtime/cancel.hpp"
#include "coil/runtime/detail/awaitable_traits.hpp"
#include "coil/runtime/detail/join.hpp"
#include "coil/runtime/task.hpp"
#include "coil/runtime/when_all.hpp"

namespace coil {

template <class T>
struct when_any_result {
    std::size_t index;
    detail::value_or_monostate_t<T> value;
};

namespace detail {

struct any_state : join_state {
    cancel_source* losers = nullptr;
    std::optional<std::size_t> winner;
};

inline void first_finisher_wins(join_state& base, std::size_t index) noexcept {
    auto& state = static_cast<any_state&>(base);
    if (state.winner) return;
    state.winner = index;
    state.losers->request_cancel();
}

template <class T>
task<when_any_result<T>> when_any_of(std::vector<task<T>> tasks) {
    if (tasks.empty()) throw std::invalid_argument("coil::when_any needs at least one task");
    const cancel_token parent = co_await current_cancel_token();
    cancel_source scope(parent);
    // Owned by a local declared after `scope`, so the children (whose cancel hooks link into
    // scope) are destroyed before it; the parameter itself would outlive every local.
    std::vector<task<T>> owned = std::move(tasks);
    any_state state;
    state.losers = &scope;
    state.on_child_done = &first_finisher_wins;
    std::vector<join_child> children;
    children.reserve(owned.size());  // not tasks: it was moved from
    for (std::size_t i = 0; i < owned.size(); ++i) {
        owned[i].inherit_cancel_token(scope.token());  // combined with the child's own token
        children.push_back(run_joined(owned[i]));
        children.back().bind(state, i);
    }
    co_await join_all_awaiter(state, children);
    const std::size_t index = *state.winner;
    co_return when_any_result<T>{index, take_value(owned[index])};
}

// Runs one child of a mixed when_any and stores its value as alternative I of the result. Only
// the first to store counts: the body stores and then finishes without suspending, so the first
// to store is the first to finish, which is when_any's winner.
template <class V, std::size_t I, class T>
task<void> store_if_first(task<T> t, std::optional<V>& out) {
    if constexpr (std::is_void_v<T>) {
        co_await std::move(t);
        if (!out) out.emplace(std::in_place_index<I>);
    } else {
        T value = co_await std::move(t);
        if (!out) out.emplace(std::in_place_index<I>, std::move(value));
    }
}

}  // namespace detail

template <class T>
task<when_any_result<T>> when_any(std::vector<task<T>> tasks) {
    return detail::when_any_of(std::move(tasks));
}

/// All tasks must have the same value type.
template <class T, class... Rest>
    requires(std::is_same_v<T, Rest> && ...)
task<when_any_result<T>> when_any(task<T> first, task<Rest>... rest) {
    std::vector<task<T>> tasks;
    tasks.reserve(1 + sizeof...(Rest));
    tasks.push_back(std::move(first));
    (tasks.push_back(std::move(rest)), ...);
    return detail::when_any_of(std::move(tasks));
}

/// Tasks of different value types: the winner's value as a std::variant (see the top).
template <class... T>
    requires(sizeof...(T) >= 2 && !(std::is_same_v<T, std::tuple_element_t<0, std::tuple<T...>>> && ...))
task<std::variant<detail::value_or_monostate_t<T>...>> when_any(task<T>... tasks) {
    using result_type = std::variant<detail::value_or_monostate_t<T>...>;
    std::optional<result_type> out;
    std::vector<task<void>> children;
    children.reserve(sizeof...(T));
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (children.push_back(detail::store_if_first<result_type, I>(std::move(tasks), out)), ...);
    }(std::index_sequence_for<T...>{});
    co_await detail::when_any_of(std::move(children));  // rethrows the winner's exception
    co_return std::move(*out);
}

/// Mixed tasks and other awaitables: each awaitable runs in a task of its own (see the top).
template <class... A>
    requires(sizeof...(A) >= 1 && (detail::awaitable<A> && ...) && (detail::non_task_awaitable<A> || ...))
auto when_any(A&&... awaitables) {
    return when_any(detail::as_task(std::forward<A>(awaitables))...);
}

}  // namespace coil
