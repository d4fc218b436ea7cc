#include "coil/net/send_all_awaitable.hpp"

#include <cassert>
#include <stdexcept>
#include <utility>

#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/io.hpp"

namespace coil {

send_all_awaitable::send_all_awaitable(send_all_awaitable&& other) noexcept
    : counter_(std::move(other.counter_)), buf_(other.buf_) {
    assert(!other.awaited_ && "a send_all_awaitable moved after it was awaited");
}

// The first send's op lives in this object, so it must not outlive it: as io_awaitable does, an
// op in flight is abandoned (io_uring: cancelled and its CQE awaited) and a queued completion is
// unlinked. The task of the slow path, the turn and the fd count go after, as members.
send_all_awaitable::~send_all_awaitable() {
    if (first_.loop == nullptr) return;
    detail::cancel_state::unlink(first_);
    if (first_.in_flight) first_.loop->abandon_io(first_);
    first_.unlink();
}

bool send_all_awaitable::await_ready() {
    if (awaited_) throw std::logic_error("coil::send_all_awaitable: co_await on one already awaited");
    awaited_ = true;
    return buf_.empty();  // at once, without waiting its turn (result_ is 0 bytes, success)
}

transfer_result send_all_awaitable::await_resume() {
    if (rest_awaiter_) result_ = rest_awaiter_->await_resume();
    // The message is over: the next writer may go, and the fd may close.
    turn_.release();
    counter_.stop();
    return result_;
}

// The ordinary send op (ops/send.hpp, as coil::send makes it), started the way io_awaitable
// starts one, except that a completion that comes later runs on_first_send_done instead of
// resuming the caller: only then is it known whether the message is complete.
send_all_awaitable::first_send_outcome send_all_awaitable::start_first_send(detail::cancel_state* cancel) {
    event_loop& loop = event_loop::current_or_throw();
    first_.code = detail::op_code::send;
    first_.fd = counter_.fd();
    first_.data = const_cast<std::byte*>(buf_.data());
    first_.len = detail::clamp_len(buf_.size());
    first_.owner = this;
    first_.loop = &loop;
    first_.handle = parent_;
    first_.run = &on_first_send_done;
    if (loop.start_io(first_)) {
        // Completed at once (the epoll fast path). Past its budget the task yields, as after
        // any op that did not suspend (see io_awaitable).
        first_.run = nullptr;
        if (!take_first_send()) return first_send_outcome::partial;
        if (loop.take_inline_budget()) return first_send_outcome::done_inline;
        loop.schedule(first_);  // resumes the caller, which then finds result_
        return first_send_outcome::done_scheduled;
    }
    if (cancel) {
        first_.on_cancel = &on_cancel;
        cancel->attach(first_);
    }
    return first_send_outcome::in_flight;
}

bool send_all_awaitable::take_first_send() noexcept {
    detail::cancel_state::unlink(first_);
    const result<std::size_t> sent = detail::to_sent(first_);
    if (!sent) {
        result_ = transfer_result(0, sent.error());
        return true;
    }
    done_ = *sent;
    if (done_ < buf_.size()) return false;
    result_ = transfer_result(done_, {});
    return true;
}

void send_all_awaitable::on_first_send_done(detail::ready_node& node) noexcept {
    send_all_awaitable& self = *static_cast<first_send&>(static_cast<detail::io_op&>(node)).owner;
    if (self.take_first_send()) {
        self.parent_.resume();  // `self` may be gone after this
        return;
    }
    self.continue_(self);
}

void send_all_awaitable::on_cancel(detail::cancel_link& link) noexcept {
    first_send& op = static_cast<first_send&>(link);
    op.loop->cancel_io(op);
}

// The slow path, as send_all was before it had a fast one. The fd count (counter_) is held for
// the whole run: close() in another task then cancels the send in flight and stops the loop
// between sends, so the result is operation_canceled whichever point the transfer had reached.
task<transfer_result> send_all_awaitable::send_rest(bool wait_turn) {
    if (wait_turn) {
        const std::error_code waited = co_await detail::write_turn_awaiter(*counter_.writes(), turn_);
        if (waited) co_return transfer_result(0, waited);
    }
    while (done_ < buf_.size()) {
        if (counter_.closing()) {
            co_return transfer_result(done_, counter_.fd() < 0 ? make_error_code(std::errc::bad_file_descriptor)
                                                               : make_error_code(std::errc::operation_canceled));
        }
        auto sent = co_await coil::send(counter_.fd(), buf_.subspan(done_));
        if (!sent) co_return transfer_result(done_, sent.error());
        done_ += *sent;
    }
    co_return transfer_result(done_, {});
}

}  // namespace coil
