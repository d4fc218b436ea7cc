#pragma once
// What every operation type under runtime/backend/ops/ provides, and the helpers they share.
//
// One operation = one small struct in its own header (recv.hpp holds recv_op, ...), the shape of
// monoio's driver/op/*.rs: everything the backends must know about that op is in that struct.
//
//     struct recv_op {
//         static constexpr op_code code = op_code::recv;
//         static constexpr op_traits traits{...};           // plain data, see op_traits below
//         static int run(io_op& op) noexcept;               // epoll: one non-blocking attempt
//         static void prep(io_uring_sqe&, io_op&) noexcept; // io_uring: fill the SQE
//     };
//
// The backends never switch on op_code themselves: ops/dispatch.hpp is the one switch that maps
// an op_code to its type. The result's conversion to coil::result<T> stays with the op's public
// factory in runtime/io.hpp (a public header cannot see this private folder); each op's header
// names it.
//
// liburing: included here, and prep() compiled, only where io_uring is built
// (COIL_IO_URING_BUILT, set by runtime/meson.build). A -Dio_uring=disabled build compiles the
// same op types without prep() and links uring_unavailable.cpp instead of uring_backend.cpp.
// Private to runtime/ (the backends and event_loop.cpp); never installed.

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "coil/runtime/detail/io_op.hpp"

#if COIL_IO_URING_BUILT
#include <liburing.h>
#endif

namespace coil::detail::ops {

/// Which readiness an op waits for when its syscall says EAGAIN (epoll: the fd's reader or
/// writer list; io_uring: the POLL_ADD before a read/write is issued again). Ops that never
/// wait (nop, close, accept_multishot on epoll) say `in`; it is never used for them.
enum class readiness : std::uint8_t { in, out };

struct op_traits {
    readiness waits_for = readiness::in;
    /// epoll, owned fds: EAGAIN (or a short transfer on a stream socket) says the socket is
    /// drained/full until the next edge, so the next such op waits without a syscall. Only socket
    /// ops: read/write also serve regular files, which never signal readiness.
    bool remembers_readiness = false;
    /// Moves bytes between op.data and the fd (op.len counts): a 0-byte one completes at once
    /// with 0 in event_loop::start_io and never reaches a backend.
    bool transfers_data = false;
    /// io_uring: -EAGAIN means the fd is O_NONBLOCK (read/write do not wait there): poll for
    /// `waits_for`, then issue the op again.
    bool reissues_after_poll = false;
    /// A result >= 0 is a new fd: closed by the backend when the op's owner is gone.
    bool yields_fd = false;
    /// The op closes op.fd: the backend forgets the fd first, the syscall is never retried (not
    /// even on EINTR), and it must happen even when the io_uring SQ is full.
    bool closes_fd = false;
};

inline constexpr std::uint64_t at_current_position = ~std::uint64_t{0};

/// A syscall's return value as coil's op result: the value, or -errno.
inline int result_of(long r) noexcept { return r >= 0 ? static_cast<int>(r) : -errno; }

/// poll(2) without waiting: 0 if `events` (or an error/hang-up) is pending, else -EAGAIN.
inline int poll_now(int fd, short events) noexcept {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, 0);
    if (n < 0) return -errno;
    if (n == 0) return -EAGAIN;
    return (p.revents & POLLNVAL) ? -EBADF : 0;
}

}  // namespace coil::detail::ops
