#pragma once
// coil::stream_socket: what every connected stream socket offers, whatever its family; the base
// of tcp_stream and unix_stream (one implementation of the transfers, not one per family).
//
//     auto n = co_await stream.recv(buf);              // result<std::size_t>
//     if (!n) { /* n.error(): coil::errc::eof when the peer closed, else the OS error */ }
//     auto ok = co_await stream.send_all(reply);       // transfer_result: if (!ok) ok.error()
//
// Result: recv yields the bytes received (> 0), errc::eof once the peer shut down its side, or the
// OS error (connection_reset, ...). send may send fewer bytes than given; send_all sends them all
// and recv_exact fills the whole buffer, and on error both say how many bytes went through before
// it (transfer_result::transferred). A closed peer gives broken_pipe, never SIGPIPE.
// Empty buffers: recv, send, send_all and recv_exact with an empty buffer complete at once with
// 0 bytes (success), without waiting and without a syscall (see runtime/io.hpp).
// Lifetime: buffers must stay valid until the co_await finishes. Move-only; the stream closes
// when destroyed, after any operation still in flight in another task has completed (those are
// cancelled first, see io_handle). A stream may outlive its event loop (docs/lifetimes.md).
// Cancellation: every operation honours the awaiting task's cancel token. Closing the stream
// (close() or destruction) while another task's recv/send/send_all/recv_exact is pending ends
// that operation with operation_canceled, on both backends (send_all and recv_exact still say
// how much went through); an operation started after close() gets bad_file_descriptor, also one
// made before it and awaited after (a recv handed to with_timeout or when_all, for instance).
// Threading: use a stream on the loop thread that created it.
// Not used on its own: its constructors are protected, so a stream always has its family's type
// (and a derived stream is never destroyed through a stream_socket*).

#include <cstddef>
#include <span>
#include <system_error>
#include <utility>

#include "coil/net/send_all_awaitable.hpp"
#include "coil/runtime/io.hpp"
#include "coil/runtime/io_handle.hpp"
#include "coil/runtime/pooled_buffer.hpp"
#include "coil/runtime/pooled_recv.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"
#include "coil/runtime/transfer_result.hpp"
#include "coil/runtime/unique_fd.hpp"

namespace coil {

enum class shutdown_how { read = 0, write = 1, both = 2 };

class stream_socket {
public:
    [[nodiscard]] bool is_open() const noexcept { return handle_.valid(); }
    [[nodiscard]] int native_handle() const noexcept { return handle_.fd(); }

    /// Receives up to buf.size() bytes.
    auto recv(std::span<std::byte> buf) const noexcept { return handle_.track(coil::recv(handle_.fd(), buf)); }
    /// Receives into a buffer of the event loop's receive pool instead of one of yours, and hands
    /// it over: `auto buf = co_await stream.recv_pooled();` yields result<pooled_buffer>, whose
    /// bytes() are what one receive returned (1 .. the pool's buffer size: loop_options::
    /// recv_buffer_size, by default 4 KiB on io_uring, 16 KiB on epoll), or
    /// errc::eof once the peer shut down its side, or the OS error. The buffer goes back to the
    /// pool when the pooled_buffer is dropped (safe late: after close, after the loop ended).
    /// An idle connection holds no buffer. io_uring: one multishot recv per stream with a
    /// provided buffer ring, armed by the first call and kept between calls; what arrives before
    /// the task asks is queued for the stream, in order. Cancellation and close: as recv (data
    /// received meanwhile stays queued for the next call, never lost). One recv_pooled at a time
    /// per stream (another concurrent one gets operation_in_progress); don't interleave it with
    /// recv() while data may be queued. runtime/pooled_recv.hpp has the full contract.
    pooled_recv_awaitable recv_pooled() const noexcept { return handle_.recv_pooled(); }
    /// Sends up to buf.size() bytes; the result says how many were sent.
    auto send(std::span<const std::byte> buf) const noexcept {
        return handle_.track(coil::send(handle_.fd(), buf));
    }
    /// Sends all of `buf` (several sends if the socket buffer is full). On error (broken_pipe,
    /// operation_canceled, ...) transferred() says how many bytes were sent before it.
    /// Ordering: concurrent send_all calls on one stream never interleave: each goes out whole,
    /// in the order the calls started running (a FIFO of waiting writers, used only under
    /// contention; a lone writer pays one flag test). send_all returns a lazy awaitable, so that
    /// is the order in which they are first awaited (directly, or when when_all, with_timeout or
    /// a helper task that awaits them starts), not made.
    /// A call cancelled while it waits for its turn returns operation_canceled with 0 bytes
    /// sent; closing the stream ends the waiting ones the same way. Plain send() does not take
    /// a turn: mixing send() with a concurrent send_all on one stream may interleave.
    /// A message cut short: a send_all that ends after sending part of `buf` (cancelled, timed
    /// out, its awaiting task destroyed, or an error) leaves that part on the stream, and hands
    /// its turn on: the writers queued behind it then go out right after the partial message, so
    /// the peer sees a torn message followed by whole ones (the FIFO keeps messages from
    /// interleaving, it cannot unsend bytes). transferred() says how much went out. Unless the
    /// caller can finish the message itself before anything else is sent (nothing reserves the
    /// stream for that), it must close the stream (or shut down writing) after such a result; to
    /// let a message finish despite a cancellation, await the send_all under coil::shield.
    /// Cost: no allocation when the first send takes the whole message and nobody else is
    /// writing (the common reply); a partial first send, or waiting for the turn, continues in
    /// one coroutine frame (std::errc::not_enough_memory, with the count so far, if that cannot
    /// be allocated once the first send went out). The awaitable's own contract (laziness, one
    /// await, use with when_all, when_any, with_timeout and shield) is in send_all_awaitable.hpp.
    send_all_awaitable send_all(std::span<const std::byte> buf) const noexcept;
    /// Gathered: sends all the bytes of `bufs`, in order, with sendmsg(2) (io_uring:
    /// IORING_OP_SENDMSG), as one message for the ordering above; like send_all of their
    /// concatenation, without copying them together. This one is a lazy task (a frame per
    /// call): its steps need an iovec array of up to 64 entries, too big to carry in an awaiter
    /// in every caller's frame. transferred() counts across the buffers;
    /// empty buffers are skipped, and a total of 0 bytes completes at once. The buffers (and the
    /// span of them) must stay valid until the co_await finishes.
    task<transfer_result> send_all(std::span<const std::span<const std::byte>> bufs) const;
    /// Receives exactly buf.size() bytes; errc::eof if the stream ends first. On error
    /// transferred() says how many bytes were received (into the start of `buf`) before it.
    task<transfer_result> recv_exact(std::span<std::byte> buf) const;

    /// shutdown(2): for write, the peer's recv then sees end of stream.
    result<void> shutdown(shutdown_how how = shutdown_how::write) const noexcept;

    /// Closes now (or, with operations in flight elsewhere, cancels them and closes after).
    void close() noexcept { handle_.reset(); }

protected:
    stream_socket() noexcept = default;
    /// Takes a connected, non-blocking stream socket.
    explicit stream_socket(unique_fd fd) : handle_(std::move(fd)) {}
    stream_socket(stream_socket&&) noexcept = default;
    stream_socket& operator=(stream_socket&&) noexcept = default;
    ~stream_socket() = default;

private:
    io_handle handle_;
};

}  // namespace coil
