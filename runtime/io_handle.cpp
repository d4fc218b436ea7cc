#include "coil/runtime/io_handle.hpp"

#include "coil/runtime/event_loop.hpp"

namespace coil {

namespace detail {

void release_fd_record(fd_record* record) noexcept {
    unique_fd closing(record->fd);  // tells the loop, then closes
    delete record;
}

}  // namespace detail

io_handle::io_handle(unique_fd fd) {
    event_loop& loop = event_loop::current_or_throw();
    record_ = new detail::fd_record{fd.release(), 0, false, &loop};
    loop.register_fd(record_->fd);
}

void io_handle::reset() noexcept {
    detail::fd_record* record = std::exchange(record_, nullptr);
    if (record == nullptr) return;
    if (record->in_flight == 0) {
        detail::release_fd_record(record);
        return;
    }
    // Others still use the fd: ask their ops to stop, and let the last one close it.
    record->orphaned = true;
    record->loop->cancel_fd_ops(record->fd);
}

}  // namespace coil
