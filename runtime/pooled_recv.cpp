#include "coil/runtime/pooled_recv.hpp"

#include <cerrno>
#include <new>

#include "coil/runtime/detail/pooled_recv_state.hpp"
#include "coil/runtime/errc.hpp"
#include "coil/runtime/event_loop.hpp"

namespace coil {

namespace detail {
namespace {

void on_result(io_op& base, int res, bool more) noexcept;

void push(pooled_recv_state& s, std::uint16_t id) noexcept {
    if (s.tail == buffer_pool::no_buffer) s.head = id; else s.pool->next_of(s.tail) = id;
    s.tail = id;
    ++s.queued;
}

// Arms the multishot; false if it could not even start (its error is then queued).
bool arm(pooled_recv_state& s) noexcept {
    s.op.cancel_requested = false;  // left over from a pause
    s.op.abandoned = false;
    s.op.res = 0;
    s.op.fd = s.record->fd;
    s.op.buffer = buffer_pool::no_buffer;
    if (s.loop->start_io(s.op)) {
        s.final_res = s.op.res < 0 ? s.op.res : -EIO;
        return false;
    }
    s.armed = true;
    return true;
}

// The final completion arrived for a record whose handle is gone: let it close the fd (which may
// free `s`: touch nothing of it afterwards).
void settle_if_closing(pooled_recv_state& s) noexcept {
    if (!s.armed && s.record->orphaned) settle_fd_record(s.record);
}

void on_result(io_op& base, int res, bool more) noexcept {
    pooled_recv_state& s = *static_cast<pooled_recv_state::multishot_op&>(base).owner;
    if (!more) {
        s.armed = false;
        s.pausing = false;
    }
    const std::uint16_t id = base.buffer;
    if (res > 0 && id != buffer_pool::no_buffer) {
        s.pool->note_received(id);
        if (pooled_recv_awaitable* w = s.waiter) {
            w->deliver(res, s.pool, id, static_cast<std::uint32_t>(res));
        } else {
            s.pool->length_of(id) = static_cast<std::uint32_t>(res);
            push(s, id);
            if (s.queued >= pooled_recv_state::max_queued && s.armed && !s.pausing) {
                // Nobody is taking them: let the socket buffer hold the rest (the peer then slows
                // down) rather than one connection emptying the ring for all the others.
                s.pausing = true;
                s.loop->cancel_io(s.op);
            }
        }
        settle_if_closing(s);
        return;
    }
    if (s.record->orphaned) {
        // Closing: the call that waited was ended by pooled_recv_closing already.
        settle_if_closing(s);
        return;
    }
    if (!more && (res == -ENOBUFS || (res == -EINVAL && !s.loop->supports_multishot_recv()))) {
        // Not the stream's result: the ring ran dry (the data waits in the socket), or this
        // kernel has no multishot recv. A waiting call receives once instead, the epoll way.
        if (pooled_recv_awaitable* w = s.waiter) w->fall_back_to_single();
        return;
    }
    if (res == -ECANCELED) {
        // Our own pause ended (or a cancel not meant for the stream): nothing was lost, the data
        // waits in the socket. Re-arm for a waiting call.
        if (more) return;
        if (pooled_recv_awaitable* w = s.waiter; w != nullptr && !arm(s)) {
            const int err = s.final_res;
            s.final_res = 1;
            w->deliver(err, s.pool, buffer_pool::no_buffer, 0);
        }
        return;
    }
    // End of stream (0) or an error: the stream's result, after what is queued.
    if (pooled_recv_awaitable* w = s.waiter) {
        w->deliver(res, s.pool, buffer_pool::no_buffer, 0);
    } else {
        s.final_res = res;
    }
}

}  // namespace

pooled_recv_state::pooled_recv_state(fd_record& r, event_loop& l, buffer_pool& p) noexcept
    : record(&r), loop(&l), pool(&p) {
    op.owner = this;
    op.code = op_code::recv_multishot;
    op.on_multishot = &on_result;
}

void pooled_recv_closing(fd_record& record) noexcept {
    pooled_recv_state& s = *record.pooled;
    if (pooled_recv_awaitable* w = s.waiter) w->deliver(-ECANCELED, s.pool, buffer_pool::no_buffer, 0);
    if (s.armed && s.loop != nullptr && !s.op.cancel_requested) s.loop->cancel_io(s.op);
}

bool pooled_recv_release(fd_record& record) noexcept {
    pooled_recv_state* s = record.pooled;
    if (s->armed) {
        if (s->loop != nullptr && !s->op.cancel_requested) s->loop->cancel_io(s->op);
        return false;
    }
    // Nobody can take what is queued any more.
    if (s->stash != nullptr) s->stash_pool->give_back(s->stash_id, s->stash);
    while (s->head != buffer_pool::no_buffer) {
        const std::uint16_t id = s->head;
        s->head = s->pool->next_of(id);
        s->pool->give_back(id, s->pool->data(id));
    }
    record.pooled = nullptr;
    delete s;
    return true;
}

void pooled_recv_loop_gone(fd_record& record) noexcept {
    pooled_recv_state& s = *record.pooled;
    if (s.armed && s.loop != nullptr) s.loop->abandon_io(s.op);  // cancel, reap to the last CQE
    s.armed = false;
    s.pausing = false;
    s.op.abandoned = false;
    s.loop = nullptr;
}

}  // namespace detail

pooled_recv_awaitable io_handle::recv_pooled() const noexcept { return pooled_recv_awaitable(record_); }

void pooled_recv_awaitable::set_busy(bool on) noexcept {
    if (busy_ == on) return;
    busy_ = on;
    if (detail::fd_record* record = counter_.record()) record->pooled_busy = on;
}

pooled_recv_awaitable::~pooled_recv_awaitable() {
    set_busy(false);
    detail::cancel_state::unlink(hook_);
    if (waiting_on_ != nullptr) waiting_on_->waiter = nullptr;
    if (op_.in_flight) loop_->abandon_io(op_);
    op_.unlink();  // completed and queued, but never resumed
    if (!resumed_) {
        // Bytes received for this call, whose task is gone before it resumed: they are the
        // stream's next bytes, so the next call gets them (docs/lifetimes.md); given back only
        // when the stream is closed or nothing can hold them.
        if (single_ && op_.res > 0 && op_.buffer != detail::buffer_pool::no_buffer) {
            keep_for_the_next_call(op_.buffer, static_cast<std::byte*>(op_.data),
                                   static_cast<std::uint32_t>(op_.res));
        }
        if (data_ != nullptr) keep_for_the_next_call(id_, data_, len_);
    }
}

void pooled_recv_awaitable::keep_for_the_next_call(std::uint16_t id, std::byte* data,
                                                    std::uint32_t len) noexcept {
    detail::fd_record* record = counter_.record();
    detail::pooled_recv_state* s = record != nullptr && !record->orphaned ? record->pooled : nullptr;
    if (record != nullptr && !record->orphaned && s == nullptr && loop_ != nullptr) {
        // epoll (or no multishot): a state only to hold the bytes; never armed.
        s = new (std::nothrow) detail::pooled_recv_state(*record, *loop_, *pool_);
        record->pooled = s;
    }
    if (s == nullptr || s->stash != nullptr) {
        pool_->give_back(id, data);  // closed, or out of memory: nobody can take them
        return;
    }
    s->stash_pool = pool_;
    s->stash = data;
    s->stash_len = len;
    s->stash_id = id;
}

bool pooled_recv_awaitable::completed_at_once() noexcept {
    // As every op that completes without suspending: past its budget the task yields.
    if (loop_->take_inline_budget()) return false;
    counter_.start();
    loop_->schedule(op_);
    return true;
}

bool pooled_recv_awaitable::start(std::coroutine_handle<> awaiting, detail::cancel_state* cancel) {
    if (counter_.closed_since_made() || counter_.record() == nullptr) {
        res_ = -EBADF;  // made before the handle was closed, or from a closed one: don't touch the fd
        return false;
    }
    event_loop& loop = event_loop::current_or_throw();
    loop_ = &loop;
    op_.handle = awaiting;
    if (cancel && cancel->requested()) {
        res_ = -ECANCELED;
        return false;
    }
    detail::fd_record& record = *counter_.record();
    if (record.pooled_busy) {
        res_ = -EINPROGRESS;  // one pooled receive at a time per handle
        return false;
    }
    pool_ = loop.recv_pool();
    if (pool_ == nullptr) {
        res_ = -ENOMEM;
        return false;
    }
    detail::pooled_recv_state* s = record.pooled;
    if (s != nullptr && s->loop != &loop && s->head == detail::buffer_pool::no_buffer && s->final_res == 1) {
        // Armed on a loop that is gone (the stream outlived it): start afresh on this one.
        s->loop = &loop;
        s->pool = pool_;
        s->final_res = 1;
    }
    if (s == nullptr && loop.supports_multishot_recv()) {
        s = new (std::nothrow) detail::pooled_recv_state(record, loop, *pool_);
        if (s == nullptr) {
            res_ = -ENOMEM;
            return false;
        }
        record.pooled = s;
    }
    if (s != nullptr) {
        if (s->stash != nullptr) {  // received for a call whose task was destroyed: first
            pool_ = s->stash_pool;
            data_ = std::exchange(s->stash, nullptr);
            id_ = s->stash_id;
            len_ = s->stash_len;
            res_ = static_cast<int>(len_);
            return completed_at_once();
        }
        if (s->head != detail::buffer_pool::no_buffer) {  // received before we asked
            const std::uint16_t id = s->head;
            s->head = s->pool->next_of(id);
            if (s->head == detail::buffer_pool::no_buffer) s->tail = detail::buffer_pool::no_buffer;
            --s->queued;
            pool_ = s->pool;
            res_ = static_cast<int>(s->pool->length_of(id));
            data_ = s->pool->data(id);
            id_ = id;
            len_ = s->pool->length_of(id);
            return completed_at_once();
        }
        if (s->final_res != 1) {
            res_ = s->final_res;
            s->final_res = 1;
            return completed_at_once();
        }
        if (s->loop == &loop && loop.supports_multishot_recv()) {
            if (!s->armed && !detail::arm(*s)) {
                res_ = s->final_res;
                s->final_res = 1;
                return false;
            }
            counter_.start();
            set_busy(true);
            s->waiter = this;
            waiting_on_ = s;
            if (cancel) {
                hook_.on_cancel = &on_cancel;
                hook_.self = this;
                cancel->attach(hook_);
            }
            return true;
        }
    }
    if (!start_single(awaiting)) return false;
    set_busy(true);
    if (cancel) {
        hook_.on_cancel = &on_cancel;
        hook_.self = this;
        cancel->attach(hook_);
    }
    return true;
}

bool pooled_recv_awaitable::start_single(std::coroutine_handle<> awaiting) noexcept {
    single_ = true;
    op_.code = detail::op_code::recv_pooled;
    op_.fd = counter_.fd();
    op_.data = pool_;
    op_.len = pool_->buffer_size();
    op_.buffer = detail::buffer_pool::no_buffer;
    op_.handle = awaiting;
    if (loop_->start_io(op_)) return completed_at_once();
    counter_.start();
    return true;
}

void pooled_recv_awaitable::fall_back_to_single() noexcept {
    // Still suspended, still counted: only the way the result comes changes.
    waiting_on_->waiter = nullptr;
    waiting_on_ = nullptr;
    single_ = true;
    op_.code = detail::op_code::recv_pooled;
    op_.fd = counter_.fd();
    op_.data = pool_;
    op_.len = pool_->buffer_size();
    op_.buffer = detail::buffer_pool::no_buffer;
    if (loop_->start_io(op_)) loop_->schedule(op_);
}

void pooled_recv_awaitable::deliver(int res, detail::buffer_pool* pool, std::uint16_t id,
                                    std::uint32_t len) noexcept {
    waiting_on_->waiter = nullptr;
    waiting_on_ = nullptr;
    detail::cancel_state::unlink(hook_);
    res_ = res;
    pool_ = pool;
    if (id != detail::buffer_pool::no_buffer) {
        data_ = pool->data(id);
        id_ = id;
        len_ = len;
    }
    loop_->schedule(op_);
}

void pooled_recv_awaitable::on_cancel(detail::cancel_link& link) noexcept {
    pooled_recv_awaitable& self = *static_cast<cancel_hook&>(link).self;
    if (self.waiting_on_ != nullptr) {
        // Nothing of ours is in the kernel: the multishot stays armed for the next call, and
        // what it receives meanwhile is queued, not lost.
        self.deliver(-ECANCELED, self.pool_, detail::buffer_pool::no_buffer, 0);
    } else if (self.op_.in_flight) {
        self.loop_->cancel_io(self.op_);
    }
}

result<pooled_buffer> pooled_recv_awaitable::await_resume() noexcept {
    detail::cancel_state::unlink(hook_);
    resumed_ = true;
    set_busy(false);
    counter_.stop();
    if (single_) {
        res_ = op_.res;
        if (res_ > 0 && op_.buffer != detail::buffer_pool::no_buffer) {
            data_ = static_cast<std::byte*>(op_.data);
            id_ = op_.buffer;
            len_ = static_cast<std::uint32_t>(res_);
            op_.buffer = detail::buffer_pool::no_buffer;
        }
    }
    if (res_ > 0 && data_ != nullptr) {
        return pooled_buffer(pool_, std::exchange(data_, nullptr), len_, id_);
    }
    if (res_ == 0) return make_error_code(errc::eof);
    return errno_code(res_ < 0 ? -res_ : EIO);
}

}  // namespace coil
