#pragma once
// Running several child tasks concurrently and waiting for them: the machinery shared by
// when_all, when_any and task_group.
//
// Each child task gets a small runner frame that awaits it and, when it finishes, reports to the
// parent's join_state (a callback, then a countdown; the last one resumes the waiting parent by
// symmetric transfer). The runner only waits for completion; the owner takes each child's result
// (value or exception) from the child task afterwards. Runner frames are owned by join_child
// objects, so a parent destroyed mid-join destroys them and the children cleanly.

#include <coroutine>
#include <cstddef>
#include <utility>

#include "coil/runtime/detail/detached.hpp"
#include "coil/runtime/detail/ready_queue.hpp"
#include "coil/runtime/task.hpp"

namespace coil::detail {

struct join_state {
    std::size_t remaining = 0;
    std::coroutine_handle<> waiter;
    /// Called when child `index` has finished, before the countdown. May destroy that child.
    void (*on_child_done)(join_state&, std::size_t index) noexcept = nullptr;
};

class join_child_promise;

class join_child {
public:
    using promise_type = join_child_promise;
    using handle_type = std::coroutine_handle<join_child_promise>;

    explicit join_child(handle_type h) noexcept : handle_(h) {}
    join_child(join_child&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
    join_child& operator=(join_child&&) = delete;
    ~join_child() {
        if (handle_) handle_.destroy();
    }

    /// Binds the runner to `state` as child `index`; call once before starting it.
    void bind(join_state& state, std::size_t index) noexcept;
    /// Runs the child until its first suspension (or its end).
    void start() noexcept { handle_.resume(); }
    /// A node that starts the child when the loop runs it.
    ready_node& start_node() noexcept;

private:
    handle_type handle_;
};

class join_child_promise {
public:
    join_child_promise() = default;
    join_child_promise(const join_child_promise&) = delete;
    join_child_promise& operator=(const join_child_promise&) = delete;
    ~join_child_promise() { start.unlink(); }  // destroyed before the loop got to start it

    join_child get_return_object() noexcept { return join_child(join_child::handle_type::from_promise(*this)); }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    void unhandled_exception() const noexcept {}  // unreachable: the runner only awaits completion

    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<join_child_promise> self) noexcept {
            // Copy what we need first: on_child_done may destroy this very frame.
            join_state& state = *self.promise().state;
            const std::size_t index = self.promise().index;
            if (state.on_child_done) state.on_child_done(state, index);
            if (--state.remaining == 0 && state.waiter) return std::exchange(state.waiter, {});
            return std::noop_coroutine();
        }
        void await_resume() const noexcept {}
    };
    final_awaiter final_suspend() const noexcept { return {}; }

    join_state* state = nullptr;
    std::size_t index = 0;
    ready_node start;
};

inline void join_child::bind(join_state& state, std::size_t index) noexcept {
    handle_.promise().state = &state;
    handle_.promise().index = index;
}

inline ready_node& join_child::start_node() noexcept {
    ready_node& node = handle_.promise().start;
    node.handle = handle_;
    return node;
}

template <class T>
join_child run_joined(task<T>& t) {
    co_await finished_awaiter<T>(t);
}

/// Starts the bound children inline and suspends until all have finished. `state.remaining` must
/// be 0 on entry. A range of join_child.
template <class Children>
class join_all_awaiter {
public:
    join_all_awaiter(join_state& state, Children& children) noexcept : state_(state), children_(children) {}
    bool await_ready() const noexcept { return std::size(children_) == 0; }
    bool await_suspend(std::coroutine_handle<> parent) noexcept {
        // One extra count held while starting, so that children finishing synchronously cannot
        // resume the parent before it has suspended.
        state_.remaining = std::size(children_) + 1;
        state_.waiter = parent;
        for (join_child& child : children_) child.start();
        if (--state_.remaining == 0) {
            state_.waiter = {};
            return false;
        }
        return true;
    }
    void await_resume() const noexcept {}

private:
    join_state& state_;
    Children& children_;
};

}  // namespace coil::detail
