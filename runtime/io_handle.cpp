#include "coil/runtime/io_handle.hpp"

#include <utility>

#include "coil/runtime/detail/pooled_recv_state.hpp"
#include "coil/runtime/event_loop.hpp"

namespace coil {

namespace detail {

void settle_fd_record(fd_record* record) noexcept {
    if (record->in_flight != 0) return;
    // An armed multishot recv keeps the fd (its final completion comes back here).
    if (record->pooled != nullptr && !pooled_recv_release(*record)) return;
    if (record->fd >= 0) {
        if (record->loop) record->loop->unbind(*record);
        record->loop = nullptr;
        unique_fd closing(std::exchange(record->fd, -1));  // tells the thread's loop, then closes
    }
    if (record->refs == 0) delete record;
}

namespace {

void forget_loop(loop_binding& b) noexcept {
    // The loop is being destroyed (its tasks, so every op counted here, are gone already). Its
    // backend forgets the fd now, while it still can: an io_uring fixed-file slot would otherwise
    // keep the file open until the kernel's deferred ring teardown. The fd stays open until the
    // handle closes it.
    auto& record = static_cast<fd_record&>(b);
    if (record.pooled != nullptr) pooled_recv_loop_gone(record);
    record.loop->fd_closing(record.fd);
    record.loop = nullptr;
    // A handle closed while its multishot recv was armed was waiting for that recv's last
    // completion to close the fd; the drain above was it.
    if (record.orphaned) settle_fd_record(&record);
}

}  // namespace
}  // namespace detail

io_handle::io_handle(unique_fd fd) {
    event_loop& loop = event_loop::current_or_throw();
    record_ = new detail::fd_record(fd.release(), &loop);
    record_->on_loop_gone = &detail::forget_loop;
    loop.bind(*record_);
    loop.register_fd(record_->fd);
}

void io_handle::reset() noexcept {
    detail::fd_record* record = std::exchange(record_, nullptr);
    if (record == nullptr) return;
    record->orphaned = true;
    if (record->pooled != nullptr) detail::pooled_recv_closing(*record);
    if (record->in_flight == 0) {
        // Closes now; the record stays while awaitables made from this handle still refer to it.
        detail::settle_fd_record(record);
        return;
    }
    // Others still use the fd: ask their ops to stop, and let the last one close it.
    // A handle that outlived its loop and is used on a later one: cancel through that one.
    event_loop* loop = record->loop ? record->loop : event_loop::current();
    if (loop) loop->cancel_fd_ops(record->fd);
}

}  // namespace coil
