#pragma once
// fd-level awaitable operations, the ground floor that net/ builds on.
//
//     auto n = co_await coil::recv(fd, buffer);      // result<std::size_t>
//     if (!n) { if (n.error() == coil::errc::eof) ...; else ... }
//
// Result: each returns an awaitable whose co_await yields a coil::result. recv/read report end of
// stream as coil::errc::eof (never as 0 bytes, unless the buffer was empty).
// Empty buffers: read, write, recv and send with an empty buffer complete at once with 0 bytes,
// on both backends: no syscall, no wait, whatever the fd's state (even a closed fd gives 0, not
// an error; recv(2) of 0 bytes would say EAGAIN on an idle socket, and waiting for data there is
// no room for could wait forever). sendmsg and recvmsg are the exception: an empty datagram is a
// message, so they always reach the kernel (see each). Like any op that completes without
// suspending it counts against the task's cooperative budget. A task whose cancellation was
// requested still gets operation_canceled.
// Lifetime: buffers and addresses are borrowed and must stay valid until the co_await finishes.
// If the awaiting task is destroyed mid-operation, the awaiter cancels the op and waits for its
// completion before the frame goes away (docs/lifetimes.md), so the kernel never writes into it.
// Cancellation: each op honours the awaiting task's cancel token. A cancelled op completes with
// std::errc::operation_canceled, or with its real result if it won the race (then use it).
// fds: must be non-blocking for the epoll backend (everything coil creates is). Call these only
// on the thread of the loop that owns the task.
// Closing: a raw fd passed here may be closed any way you like, ::close included, once no op on
// it is in flight; its number may then be reused by a new file and these ops see the new file on
// both backends (epoll re-adds a raw fd at each wait, one epoll_ctl per wait, and keeps no
// readiness memory for it). An fd owned by an io_handle (tcp_stream, tcp_listener, signal_set)
// must be closed through its owner, never with ::close: the backend keeps per-fd state for it
// (the epoll registration and readiness memory, the io_uring fixed-file slot) that only a close
// through coil forgets. Closing through coil (io_handle::reset, unique_fd, coil::close) while an
// op on the fd waits: through an io_handle (tracked ops), the op ends with operation_canceled on
// both backends and the fd closes after it; a raw fd closed under a waiting op is a bug (epoll
// ends the op with operation_canceled, but on io_uring the kernel keeps the file and the op waits
// on).
// Threading: loop thread only.

#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "coil/runtime/detail/io_awaitable.hpp"
#include "coil/runtime/errc.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/unique_fd.hpp"

namespace coil {

/// Offset value meaning "the fd's current position" (pipes, sockets, sequential files).
inline constexpr std::uint64_t current_position = ~std::uint64_t{0};

namespace detail {

inline std::uint32_t clamp_len(std::size_t n) noexcept {
    constexpr std::size_t max = 0x7ffff000;  // Linux's largest single read/write
    return static_cast<std::uint32_t>(n < max ? n : max);
}

inline result<std::size_t> to_received(const io_op& op) noexcept {
    if (op.res < 0) return errno_code(-op.res);
    if (op.res == 0 && op.len > 0) return make_error_code(errc::eof);
    return static_cast<std::size_t>(op.res);
}

// sendmsg/recvmsg: the kernel's count as it is, 0 included (an empty datagram is a message).
inline result<std::size_t> to_count(const io_op& op) noexcept {
    if (op.res < 0) return errno_code(-op.res);
    return static_cast<std::size_t>(op.res);
}

inline result<std::size_t> to_sent(const io_op& op) noexcept {
    if (op.res < 0) return errno_code(-op.res);
    return static_cast<std::size_t>(op.res);
}

inline result<void> to_void(const io_op& op) noexcept {
    if (op.res < 0) return errno_code(-op.res);
    return {};
}

inline result<unique_fd> to_fd(const io_op& op) noexcept {
    if (op.res < 0) return errno_code(-op.res);
    return unique_fd(op.res);
}

inline io_op make_op(op_code code, int fd, void* data = nullptr, std::size_t len = 0) noexcept {
    io_op op;
    op.code = code;
    op.fd = fd;
    op.data = data;
    op.len = clamp_len(len);
    return op;
}

}  // namespace detail

using receive_awaitable = detail::io_awaitable<result<std::size_t>, detail::to_received>;
using send_awaitable = detail::io_awaitable<result<std::size_t>, detail::to_sent>;
using void_awaitable = detail::io_awaitable<result<void>, detail::to_void>;
using accept_awaitable = detail::io_awaitable<result<unique_fd>, detail::to_fd>;
using message_awaitable = detail::io_awaitable<result<std::size_t>, detail::to_count>;

/// Reads up to buf.size() bytes at `offset` (or the current position).
/// Result: bytes read (> 0), errc::eof at end of file/stream, or the OS error.
inline receive_awaitable read(int fd, std::span<std::byte> buf,
                              std::uint64_t offset = current_position) noexcept {
    auto op = detail::make_op(detail::op_code::read, fd, buf.data(), buf.size());
    op.offset = offset;
    return receive_awaitable(op);
}

/// Writes up to buf.size() bytes; may write fewer (the result says how many).
inline send_awaitable write(int fd, std::span<const std::byte> buf,
                            std::uint64_t offset = current_position) noexcept {
    auto op = detail::make_op(detail::op_code::write, fd, const_cast<std::byte*>(buf.data()),
                              buf.size());
    op.offset = offset;
    return send_awaitable(op);
}

/// Receives up to buf.size() bytes from a socket.
/// Result: bytes received (> 0), errc::eof once the peer has shut down its side, or the OS error.
inline receive_awaitable recv(int fd, std::span<std::byte> buf, int flags = 0) noexcept {
    auto op = detail::make_op(detail::op_code::recv, fd, buf.data(), buf.size());
    op.flags = flags;
    return receive_awaitable(op);
}

/// Sends up to buf.size() bytes on a socket (MSG_NOSIGNAL always: a closed peer gives EPIPE,
/// never SIGPIPE). May send fewer bytes than asked.
inline send_awaitable send(int fd, std::span<const std::byte> buf, int flags = 0) noexcept {
    auto op = detail::make_op(detail::op_code::send, fd, const_cast<std::byte*>(buf.data()),
                              buf.size());
    op.flags = flags;
    return send_awaitable(op);
}

/// Sends the buffers of `msg` (its msg_iov, in order; msg_name for an unconnected socket) in one
/// sendmsg(2) (io_uring: IORING_OP_SENDMSG; MSG_NOSIGNAL always). May send fewer bytes than
/// their total on a stream socket (the result says how many, counted across the buffers in
/// order); a datagram goes whole or not at all (std::errc::message_size if too large).
/// Unlike send(), a message whose buffers total 0 bytes is always handed to the kernel: on a
/// datagram socket it is a real, empty datagram (a stream socket then reports 0 at once, but
/// stream callers should skip the call themselves, as tcp_stream::send_all does). Lifetime:
/// `msg`, its iovec array, its address and the buffers must stay valid until the co_await
/// finishes (keep them in the awaiting frame).
inline message_awaitable sendmsg(int fd, const msghdr& msg, int flags = 0) noexcept {
    std::size_t total = 0;
    for (std::size_t i = 0; i < msg.msg_iovlen; ++i) total += msg.msg_iov[i].iov_len;
    auto op = detail::make_op(detail::op_code::sendmsg, fd, const_cast<msghdr*>(&msg), total);
    op.flags = flags;
    return message_awaitable(op);
}

/// Receives into the buffers of `msg` with one recvmsg(2) (io_uring: IORING_OP_RECVMSG; epoll:
/// recvmsg with MSG_DONTWAIT, waiting for readability on EAGAIN).
/// Result: the byte count as recvmsg(2) gives it, 0 included: on a datagram socket 0 is an empty
/// datagram (it is never end of stream there); on a stream socket 0 with room in the buffers is
/// end of stream, and unlike recv() it is not turned into errc::eof. As with recvmsg(2), the
/// kernel also fills msg.msg_name (msg.msg_namelen: in, its size; out, the address length),
/// msg.msg_control/msg_controllen and msg.msg_flags (MSG_TRUNC: the datagram was longer than the
/// buffers and the rest is discarded), on both backends.
/// Empty buffers: always handed to the kernel (a datagram socket waits for a datagram and
/// consumes it, with MSG_TRUNC if it was not empty). Lifetime: as for sendmsg; the kernel writes
/// into `msg` itself, so it must be writable and stay put until the co_await finishes.
inline message_awaitable recvmsg(int fd, msghdr& msg, int flags = 0) noexcept {
    std::size_t total = 0;
    for (std::size_t i = 0; i < msg.msg_iovlen; ++i) total += msg.msg_iov[i].iov_len;
    auto op = detail::make_op(detail::op_code::recvmsg, fd, &msg, total);
    op.flags = flags;
    return message_awaitable(op);
}

/// Accepts a connection on a non-blocking listening socket. The new socket is non-blocking and
/// close-on-exec. If `peer` is given, *peer_len must hold its size and receives the address size.
/// If the awaiting task goes away after the kernel accepted, the new fd is closed, never leaked.
inline accept_awaitable accept(int listen_fd, sockaddr* peer = nullptr,
                               socklen_t* peer_len = nullptr) noexcept {
    auto op = detail::make_op(detail::op_code::accept, listen_fd);
    op.addr = peer;
    op.addrlen = peer_len;
    op.flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
    return accept_awaitable(op);
}

/// Connects a non-blocking socket to `addr` (copied into the awaitable).
class [[nodiscard]] connect_awaitable : public void_awaitable {
public:
    connect_awaitable(int fd, const sockaddr* addr, socklen_t len) noexcept
        : void_awaitable(detail::make_op(detail::op_code::connect, fd)) {
        if (len > sizeof address_) len = 0;  // reported by the kernel as EINVAL
        std::memcpy(&address_, addr, len);
        op_.connect_len = len;
    }
    connect_awaitable(const connect_awaitable& other) noexcept
        : void_awaitable(other), address_(other.address_) {}

    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        // KERNEL-OWNS: address_ lives in this awaitable, which outlives the op (see io_awaitable).
        op_.addr = reinterpret_cast<sockaddr*>(&address_);
        return void_awaitable::await_suspend(h);
    }

private:
    sockaddr_storage address_{};
};

inline connect_awaitable connect(int fd, const sockaddr* addr, socklen_t len) noexcept {
    return connect_awaitable(fd, addr, len);
}

/// Closes `fd` through the backend (io_uring: an async close). Its other ops must be finished.
inline void_awaitable close(unique_fd fd) noexcept {
    const int raw = fd.release();
    return void_awaitable(detail::make_op(detail::op_code::close, raw));
}

/// Completes once `fd` is readable (or has an error/hang-up pending).
inline void_awaitable wait_readable(int fd) noexcept {
    return void_awaitable(detail::make_op(detail::op_code::poll_readable, fd));
}

/// Completes once `fd` is writable (or has an error pending).
inline void_awaitable wait_writable(int fd) noexcept {
    return void_awaitable(detail::make_op(detail::op_code::poll_writable, fd));
}

/// An operation that does nothing, through the backend: io_uring submits a NOP and waits for its
/// CQE; epoll completes it at once. For measuring the cost of one awaited operation.
inline void_awaitable nop() noexcept { return void_awaitable(detail::make_op(detail::op_code::nop, -1)); }

}  // namespace coil
