#pragma once
// recv_multishot (io_uring only, 6.0+): one submission, one completion per receive, each into a
// buffer the kernel picks from the loop's provided buffer ring (group pool_buffer_group); each
// is handed to op.on_multishot with the buffer's id in op.buffer (IORING_CQE_F_BUFFER). It ends
// (a completion without IORING_CQE_F_MORE) at end of stream, on an error, when cancelled, and
// with -ENOBUFS when the ring is empty (the data then waits in the socket). An abandoned op's
// buffers go straight back to the ring. epoll answers -EINVAL at once
// (backend::supports_multishot_recv() says false there).
// Factory: runtime/pooled_recv.cpp (the per-connection state, pooled_recv_state.hpp).

#include "coil/runtime/backend/ops/op_traits.hpp"

namespace coil::detail::ops {

/// The provided-buffer group of the loop's receive pool (one pool per ring).
inline constexpr std::uint16_t pool_buffer_group = 0;

struct recv_multishot_op {
    static constexpr op_code code = op_code::recv_multishot;
    static constexpr op_traits traits{.waits_for = readiness::in};

    static int run(io_op& /*op*/) noexcept { return -EINVAL; }
#if COIL_IO_URING_BUILT
    static void prep(io_uring_sqe& sqe, io_op& op) noexcept {
        // KERNEL-OWNS: the buffers are the pool's, which outlives the ring (buffer_ring.hpp).
        io_uring_prep_recv_multishot(&sqe, op.fd, nullptr, 0, op.flags);
        sqe.flags |= IOSQE_BUFFER_SELECT;
        sqe.buf_group = pool_buffer_group;
    }
#endif
};

}  // namespace coil::detail::ops
