#pragma once
// coil::send_all_awaitable: what stream_socket::send_all(buf) returns; `co_await` it for a
// transfer_result (the contract, ordering and partial-message rules are on send_all in
// net/stream_socket.hpp).
//
// Why not a task: most send_alls (an echo reply, an HTTP response) go out in one send(2), and a
// task would allocate a coroutine frame per call for that. This awaiter lives in the awaiting
// frame and does the common case itself: it takes the writer turn (one flag test when nobody else
// is writing), issues the first send as the ordinary send op, and when that sent everything (or
// failed) it is done, without any frame. Only a partial first send (the socket buffer was full),
// or a turn that must be waited for, continues in a task (one frame for the rest of the message).
// Laziness: like a task, making it starts nothing; the turn is taken, in FIFO order, when it is
// awaited. Awaiting it a second time throws std::logic_error.
// Combinators: when_all, when_any, with_timeout and shield take it as any awaitable (they run it
// in a task of their own, as they do for an I/O op); it has no conversion to task, so that the
// frame it saves is never allocated behind the caller's back.
// Lifetime: move it only before it is awaited; once awaited it stays put until destroyed (it is
// then the op state of a send in flight). Destroying it mid-transfer cancels the send in flight
// and waits for its completion (docs/lifetimes.md), passes the turn on, and ends the count that
// keeps the stream's fd open. The buffer must stay valid until the co_await finishes.
// Threading: the stream's loop thread.

#include <coroutine>
#include <cstddef>
#include <optional>
#include <span>

#include "coil/runtime/cancel.hpp"
#include "coil/runtime/detail/io_op.hpp"
#include "coil/runtime/detail/write_turn.hpp"
#include "coil/runtime/io_handle.hpp"
#include "coil/runtime/task.hpp"
#include "coil/runtime/transfer_result.hpp"

namespace coil {

class event_loop;

class [[nodiscard]] send_all_awaitable {
public:
    /// `counter` counts for the stream's fd record (io_handle::track's kind: not started yet).
    send_all_awaitable(detail::op_counter counter, std::span<const std::byte> buf) noexcept
        : counter_(std::move(counter)), buf_(buf) {}
    /// Only before it is awaited (for the combinators that take it by value).
    send_all_awaitable(send_all_awaitable&& other) noexcept;
    send_all_awaitable(const send_all_awaitable&) = delete;
    send_all_awaitable& operator=(const send_all_awaitable&) = delete;
    send_all_awaitable& operator=(send_all_awaitable&&) = delete;
    ~send_all_awaitable();

    /// An empty buffer completes at once (0 bytes, success), without waiting its turn.
    bool await_ready();

    template <class P>
    bool await_suspend(std::coroutine_handle<P> awaiting) {
        if (counter_.closing()) {
            // Made before the stream was closed and awaited after (or made on a closed stream):
            // don't touch the fd number it was made with.
            result_ = transfer_result(0, make_error_code(std::errc::bad_file_descriptor));
            return false;
        }
        counter_.start();  // the fd stays open until the whole transfer is done
        parent_ = awaiting;
        continue_ = &continue_in_task<P>;
        detail::write_queue& writes = *counter_.writes();
        if (!writes.try_acquire()) return start_task(awaiting, /*wait_turn=*/true);
        turn_.hold(writes);
        detail::cancel_state* cancel = detail::cancel_state_of(awaiting);
        if (cancel && cancel->requested()) {
            result_ = transfer_result(0, make_error_code(std::errc::operation_canceled));
            return false;
        }
        switch (start_first_send(cancel)) {
        case first_send_outcome::in_flight: return true;
        case first_send_outcome::partial: return start_task(awaiting, /*wait_turn=*/false);
        case first_send_outcome::done_inline: return false;
        case first_send_outcome::done_scheduled: return true;
        }
        return true;
    }

    transfer_result await_resume();

private:
    enum class first_send_outcome { in_flight, partial, done_inline, done_scheduled };
    // The first send's op state: the io_op the backend sees, and the link that cancels it.
    struct first_send : detail::io_op, detail::cancel_link {
        send_all_awaitable* owner = nullptr;
        event_loop* loop = nullptr;
    };

    first_send_outcome start_first_send(detail::cancel_state* cancel);
    // The loop runs this (ready_node::run) when the first send completes after suspending.
    static void on_first_send_done(detail::ready_node& node) noexcept;
    static void on_cancel(detail::cancel_link& link) noexcept;
    // Takes the first send's result; false if the message is not complete yet (continue it).
    bool take_first_send() noexcept;
    // The rest of the message, in a task: waits for the turn first if `wait_turn`.
    task<transfer_result> send_rest(bool wait_turn);

    template <class P>
    bool start_task(std::coroutine_handle<P> awaiting, bool wait_turn) {
        rest_ = send_rest(wait_turn);
        rest_awaiter_.emplace(rest_);
        return rest_awaiter_->await_suspend(awaiting);
    }
    // From on_first_send_done, where the awaiting handle's type is no longer known.
    template <class P>
    static void continue_in_task(send_all_awaitable& self) noexcept {
        const auto awaiting = std::coroutine_handle<P>::from_address(self.parent_.address());
        bool suspended = false;
        try {
            suspended = self.start_task(awaiting, false);
        } catch (...) {  // no memory for the frame: the message stays cut short, say so
            self.result_ = transfer_result(self.done_, make_error_code(std::errc::not_enough_memory));
        }
        if (!suspended) awaiting.resume();  // `self` may be gone after this
    }

    // Declared first, destroyed last: the fd stays open until the op and the task are drained.
    detail::op_counter counter_;
    detail::write_turn turn_;  // destroyed after the task and the op: the turn passes on after
    std::span<const std::byte> buf_;
    std::size_t done_ = 0;
    transfer_result result_;
    std::coroutine_handle<> parent_;
    void (*continue_)(send_all_awaitable&) noexcept = nullptr;
    bool awaited_ = false;
    first_send first_;
    // The slow path; the awaiter is destroyed first, which destroys a still-suspended task.
    task<transfer_result> rest_;
    std::optional<task<transfer_result>::awaiter> rest_awaiter_;
};

}  // namespace coil
