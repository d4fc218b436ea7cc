#pragma once
// connect: connect(2) of op.fd to op.addr (op.connect_len bytes). epoll: EINPROGRESS, wait
// writable, then SO_ERROR says how the handshake ended (op.backend_stage remembers the step).
// Factory and result: coil::connect() in runtime/io.hpp, to_void.

#include "coil/runtime/backend/ops/op_traits.hpp"

namespace coil::detail::ops {

struct connect_op {
    static constexpr op_code code = op_code::connect;
    static constexpr op_traits traits{.waits_for = readiness::out};

    static constexpr std::uint8_t in_progress = 1;  // op.backend_stage (epoll)

    static int run(io_op& op) noexcept {
        if (op.backend_stage != in_progress) {
            if (::connect(op.fd, op.addr, op.connect_len) == 0) return 0;
            if (errno != EINPROGRESS) return -errno;
            op.backend_stage = in_progress;
            return -EAGAIN;
        }
        // Writable now (or an error): the handshake has finished; SO_ERROR says how.
        if (poll_now(op.fd, POLLOUT) == -EAGAIN) return -EAGAIN;
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(op.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
        return -err;
    }
#if COIL_IO_URING_BUILT
    static void prep(io_uring_sqe& sqe, io_op& op) noexcept {
        io_uring_prep_connect(&sqe, op.fd, op.addr, op.connect_len);
    }
#endif
};

}  // namespace coil::detail::ops
