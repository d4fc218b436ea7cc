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

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "coil/runtime/cancel.hpp"
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
    children.reserve(tasks.size());
    for (std::size_t i = 0; i < owned.size(); ++i) {
        owned[i].inherit_cancel_token(scope.token());  // combined with the child's own token
        children.push_back(run_joined(owned[i]));
        children.back().bind(state, i);
    }
    co_await join_all_awaiter(state, children);
    const std::size_t index = *state.winner;
    co_return when_any_result<T>{index, take_value(owned[index])};
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

}  // namespace coil
