#pragma once
// coil::pooled_recv_awaitable: a receive that takes no buffer from the caller and yields one from
// the event loop's receive pool (coil::pooled_buffer). Made by io_handle::recv_pooled and
// tcp_stream::recv_pooled:
//
//     auto buf = co_await stream.recv_pooled();        // result<pooled_buffer>
//     if (!buf) { /* errc::eof once the peer shut down its side, else the OS error */ }
//
// Result: the bytes of one receive (1 .. the pool's buffer size of them: loop_options::
// recv_buffer_size, or by default (0) the backend's, 4 KiB on io_uring, 16 KiB on epoll) in an
// owned pooled_buffer, errc::eof at end of stream, or the OS error. Never 0 bytes.
// How (docs/backends.md, "Pooled receives"):
// - io_uring: the first call arms one multishot recv for the connection, picking buffers from a
//   provided buffer ring; it stays armed between calls, and what arrives before the task asks is
//   queued for the connection, in order (up to 16 completions; then it pauses, and the socket
//   buffer holds the rest until the task catches up). When the ring runs dry (ENOBUFS) the data
//   waits in the socket; a task waiting then gets it through one receive into a heap buffer
//   instead, so nothing is lost and nobody waits for buffers other tasks hold. A kernel without
//   buffer rings (before 5.19) gets the epoll way.
// - epoll: a buffer is taken from the pool only once the socket is readable (or readiness memory
//   says data may be there), so an idle connection holds none; when the pool is empty, that one
//   receive uses a heap buffer.
// Cancellation: honours the awaiting task's cancel token (operation_canceled); nothing received
// is lost by it (on io_uring the data stays queued for the next call). Closing the handle while a
// call waits ends it with operation_canceled; a call made before the close and awaited after gets
// bad_file_descriptor (as every io_handle op).
// Lifetime: the multishot recv and its queue belong to the fd's record (io_handle), not to the
// awaiting frame: destroying the task leaves them for the next call, and so are bytes already
// received for the call when its task is destroyed before it resumed (both backends); closing the handle cancels
// the multishot, and the fd closes (and queued buffers go back to the pool) after its last
// completion. docs/lifetimes.md has the whole story.
// Concurrency: at most one recv_pooled per handle at a time (a second one gets
// operation_in_progress). Don't mix it with plain recv on one stream while data may be queued:
// a plain recv would read the bytes after the queued ones.
// Threading: loop thread only.

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "coil/runtime/cancel.hpp"
#include "coil/runtime/detail/buffer_pool.hpp"
#include "coil/runtime/detail/io_op.hpp"
#include "coil/runtime/io_handle.hpp"
#include "coil/runtime/pooled_buffer.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

class event_loop;

namespace detail {
struct pooled_recv_state;
}

class [[nodiscard]] pooled_recv_awaitable {
public:
    explicit pooled_recv_awaitable(detail::fd_record* record) noexcept : counter_(record) {}
    /// Movable only before it is awaited (with_timeout and friends take it by value).
    pooled_recv_awaitable(pooled_recv_awaitable&& other) noexcept
        : counter_(std::move(other.counter_)) {}
    pooled_recv_awaitable& operator=(const pooled_recv_awaitable&) = delete;
    ~pooled_recv_awaitable();

    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> awaiting) {
        return start(awaiting, detail::cancel_state_of(awaiting));
    }
    result<pooled_buffer> await_resume() noexcept;

    // ---- Runtime-internal: the connection's multishot (pooled_recv.cpp) reaches a waiting call
    // ---- through these. Not for application code.
    /// The result of this call (res > 0: `len` bytes in buffer `id` of `pool`).
    void deliver(int res, detail::buffer_pool* pool, std::uint16_t id, std::uint32_t len) noexcept;
    /// The multishot cannot serve this call (the ring ran dry, or the kernel has no multishot
    /// recv): receive once, the epoll way, still suspended.
    void fall_back_to_single() noexcept;

private:
    struct cancel_hook : detail::cancel_link {
        pooled_recv_awaitable* self = nullptr;
    };

    bool start(std::coroutine_handle<> awaiting, detail::cancel_state* cancel);
    bool start_single(std::coroutine_handle<> awaiting) noexcept;
    bool completed_at_once() noexcept;
    void keep_for_the_next_call(std::uint16_t id, std::byte* data, std::uint32_t len) noexcept;
    void set_busy(bool on) noexcept;
    static void on_cancel(detail::cancel_link& link) noexcept;

    // Declared first, destroyed last: the op and the buffers go before the count drops.
    detail::op_counter counter_;
    detail::io_op op_;  // the single receive (op_code::recv_pooled); its node resumes us either way
    event_loop* loop_ = nullptr;
    detail::buffer_pool* pool_ = nullptr;
    detail::pooled_recv_state* waiting_on_ = nullptr;  // the multishot we wait on
    cancel_hook hook_;
    std::byte* data_ = nullptr;  // a delivered buffer, not yet handed out
    std::uint32_t len_ = 0;
    std::uint16_t id_ = detail::buffer_pool::no_buffer;
    int res_ = 0;
    bool single_ = false;   // the result is in op_
    bool busy_ = false;     // we set the record's pooled_busy
    bool resumed_ = false;
};

}  // namespace coil
