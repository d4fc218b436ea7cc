#pragma once
// The awaiter behind every fd-level operation (see runtime/io.hpp for the contract).
//
// It holds the io_op, so the op's state lives in the awaiting coroutine's frame and starting an
// operation allocates nothing. Its destructor is what makes "the kernel never outlives the frame"
// true: an op still in flight is abandoned, which on io_uring cancels it and waits for its CQE.

#include <cassert>
#include <cerrno>
#include <coroutine>

#include "coil/runtime/cancel.hpp"
#include "coil/runtime/detail/io_op.hpp"
#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/task.hpp"
#include "coil/runtime/unique_fd.hpp"

namespace coil::detail {

template <class Result, Result (*Convert)(const io_op&) noexcept>
class [[nodiscard]] io_awaitable {
public:
    explicit io_awaitable(const io_op& op) noexcept : op_(op) {}
    // Copyable only before it is awaited (it is returned by value from the op functions).
    io_awaitable(const io_awaitable& other) noexcept : op_(other.op_) { assert(!other.loop_); }
    io_awaitable& operator=(const io_awaitable&) = delete;

    ~io_awaitable() {
        if (loop_ == nullptr) return;
        cancel_state::unlink(hook_);
        if (op_.in_flight) {
            // The backend releases whatever the op still produces (an accepted fd) itself.
            loop_->abandon_io(op_);
        } else if (!resumed_ && op_.code == op_code::accept && op_.res >= 0) {
            // It completed and was queued, but the task went away before taking the connection.
            unique_fd leaked(op_.res);
        }
        op_.unlink();  // completed and queued, but never resumed
    }

    bool await_ready() const noexcept { return false; }

    template <class P>
    bool await_suspend(std::coroutine_handle<P> awaiting) {
        event_loop& loop = event_loop::current_or_throw();
        cancel_state* cancel = cancel_state_of(awaiting);
        // close() has already taken the fd from its owner: it must run even when cancelled.
        if (cancel && cancel->requested() && op_.code != op_code::close) {
            op_.res = -ECANCELED;
            return false;
        }
        loop_ = &loop;
        op_.handle = awaiting;
        if (loop.start_io(op_)) {
            // Completed at once (the epoll fast path). A task whose peer always keeps up would
            // never suspend and would starve every other task: past its budget it yields.
            if (loop.take_inline_budget()) return false;
            loop.schedule(op_);
            return true;
        }
        if (cancel) {
            hook_.on_cancel = &on_cancel;
            hook_.self = this;
            cancel->attach(hook_);
        }
        return true;
    }

    Result await_resume() noexcept {
        cancel_state::unlink(hook_);
        resumed_ = true;
        return Convert(op_);
    }

protected:
    io_op op_;

private:
    struct cancel_hook : cancel_link {
        io_awaitable* self = nullptr;
    };
    static void on_cancel(cancel_link& link) noexcept {
        io_awaitable& self = *static_cast<cancel_hook&>(link).self;
        self.loop_->cancel_io(self.op_);
    }

    event_loop* loop_ = nullptr;
    cancel_hook hook_;
    bool resumed_ = false;
};

}  // namespace coil::detail
