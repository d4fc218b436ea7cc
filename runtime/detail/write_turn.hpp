#pragma once
// Awaiting one's turn on a write_queue: `co_await write_turn_awaiter(queue, turn)` yields an empty
// error_code once `turn` holds the queue's turn, or operation_canceled if the awaiting task was
// cancelled while it waited (it then never held the turn and left the queue).
// The awaiter is safe to destroy at any point: a frame destroyed while waiting leaves the queue,
// and one destroyed after the turn was handed to it (but before it resumed) passes the turn on.

#include <coroutine>
#include <system_error>
#include <utility>

#include "coil/runtime/cancel.hpp"
#include "coil/runtime/detail/ready_queue.hpp"
#include "coil/runtime/detail/write_queue.hpp"
#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/task.hpp"

namespace coil::detail {

/// Holds a write_queue's turn until destroyed (or released).
class write_turn {
public:
    write_turn() noexcept = default;
    write_turn(const write_turn&) = delete;
    write_turn& operator=(const write_turn&) = delete;
    ~write_turn() { release(); }

    void hold(write_queue& q) noexcept { queue_ = &q; }
    void release() noexcept {
        if (queue_) std::exchange(queue_, nullptr)->release();
    }

private:
    write_queue* queue_ = nullptr;
};

class write_turn_awaiter {
public:
    write_turn_awaiter(write_queue& q, write_turn& turn) noexcept : queue_(&q), turn_(&turn) {
        state_.queue_of = &q;
    }
    write_turn_awaiter(const write_turn_awaiter&) = delete;
    write_turn_awaiter& operator=(const write_turn_awaiter&) = delete;
    ~write_turn_awaiter() {
        cancel_state::unlink(state_);
        static_cast<ready_node&>(state_).unlink();
        queue_->remove(state_);
        if (state_.granted && !state_.taken) queue_->release();  // pass on a turn never used
    }

    bool await_ready() noexcept {
        if (!queue_->try_acquire()) return false;
        state_.granted = true;
        return true;
    }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> awaiting) {
        cancel_state* cancel = cancel_state_of(awaiting);
        if (cancel && cancel->requested()) {
            state_.cancelled = true;
            return false;
        }
        state_.loop = &event_loop::current_or_throw();
        state_.handle = awaiting;
        state_.on_granted = &on_granted;
        queue_->enqueue(state_);
        if (cancel) {
            state_.on_cancel = &on_cancel;
            cancel->attach(state_);
        }
        return true;
    }
    std::error_code await_resume() noexcept {
        cancel_state::unlink(state_);
        if (!state_.granted) return make_error_code(std::errc::operation_canceled);
        state_.taken = true;
        turn_->hold(*queue_);
        return {};
    }

private:
    struct state : write_waiter, cancel_link, ready_node {
        event_loop* loop = nullptr;
        write_queue* queue_of = nullptr;
        bool granted = false;    // the turn is ours
        bool taken = false;      // ... and `turn` holds it
        bool cancelled = false;  // left the queue without the turn
    };
    static void on_granted(write_waiter& w) noexcept {
        state& s = static_cast<state&>(w);
        cancel_state::unlink(s);
        s.granted = true;
        s.loop->schedule(s);
    }
    static void on_cancel(cancel_link& link) noexcept {
        state& s = static_cast<state&>(link);
        s.cancelled = true;
        s.queue_of->remove(s);
        s.loop->schedule(s);
    }

    write_queue* queue_;
    write_turn* turn_;
    state state_;
};

}  // namespace coil::detail
