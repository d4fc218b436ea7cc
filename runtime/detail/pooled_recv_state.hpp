#pragma once
// The per-connection side of pooled receives on io_uring: one multishot recv (picking buffers
// from the loop's provided buffer ring), the queue of what it received before the task asked,
// and the call waiting for it. Owned by the fd's record (io_handle), never by an awaiting frame:
// the kernel may post completions for the multishot until its final one (no IORING_CQE_F_MORE),
// which can come after the task that armed it is gone.
//
// Lifetime: made on the first recv_pooled on a multishot-capable loop (on any loop, without a
// multishot, when a destroyed call's bytes must be kept: the stash below). The record frees it when
// it closes the fd, and closes the fd only once the multishot is no longer armed (io_handle.cpp:
// settle_fd_record): closing the handle cancels the multishot, and its final completion settles
// the record. When the loop goes first, its multishot is drained (abandoned) there; queued
// buffers stay for a later call (the pool outlives the loop while buffers are out).
// Threading: the loop's thread only.

#include <cstddef>
#include <cstdint>

#include "coil/runtime/detail/buffer_pool.hpp"
#include "coil/runtime/detail/io_op.hpp"

namespace coil {
class event_loop;
class pooled_recv_awaitable;
}  // namespace coil

namespace coil::detail {

struct fd_record;

struct pooled_recv_state {
    /// Completions queued for a connection before its task asks; past this the multishot pauses.
    static constexpr std::uint32_t max_queued = 16;

    struct multishot_op : io_op {
        pooled_recv_state* owner = nullptr;
    };

    pooled_recv_state(fd_record& r, event_loop& l, buffer_pool& p) noexcept;

    multishot_op op;  // KERNEL-OWNS while armed: drained before this state is freed
    fd_record* record;
    event_loop* loop;      // null once the loop is gone
    buffer_pool* pool;     // the pool the queued buffers belong to
    std::uint16_t head = buffer_pool::no_buffer;  // queued buffers, oldest first (pool links)
    std::uint16_t tail = buffer_pool::no_buffer;
    std::uint32_t queued = 0;
    int final_res = 1;     // an end of stream (0) or error (< 0) queued after the buffers; 1: none
    // Bytes received for a call whose task was destroyed before it resumed: handed out first, before
    // the queue (they came before it). Any buffer, also a heap one (epoll, or a dry ring).
    buffer_pool* stash_pool = nullptr;
    std::byte* stash = nullptr;
    std::uint32_t stash_len = 0;
    std::uint16_t stash_id = buffer_pool::no_buffer;
    pooled_recv_awaitable* waiter = nullptr;
    bool armed = false;    // the multishot is in flight (until its final completion)
    bool pausing = false;  // we cancelled it because the queue is full
};

// The hooks the fd record calls (io_handle.cpp).
/// The handle is being closed: the waiting call ends with operation_canceled, the multishot is
/// cancelled.
void pooled_recv_closing(fd_record& record) noexcept;
/// The record wants to close its fd: false while the multishot is still armed (its final
/// completion settles the record again); otherwise frees the state, giving back queued buffers.
bool pooled_recv_release(fd_record& record) noexcept;
/// The loop is being destroyed: drain the multishot now, while the backend exists.
void pooled_recv_loop_gone(fd_record& record) noexcept;

}  // namespace coil::detail
