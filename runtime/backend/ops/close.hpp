#pragma once
// close: close(2) of op.fd, which has already left its owner. The backend forgets the fd first
// (epoll registration, io_uring fixed slot); never retried, not even on EINTR (the fd is gone
// either way); on io_uring it takes the real fd, never a fixed slot, and runs synchronously if
// the SQ is full. epoll closes at once.
// Factory and result: coil::close() in runtime/io.hpp, to_void.

#include "coil/runtime/backend/ops/op_traits.hpp"

namespace coil::detail::ops {

struct close_op {
    static constexpr op_code code = op_code::close;
    static constexpr op_traits traits{.closes_fd = true};

    static int run(io_op& op) noexcept { return result_of(::close(op.fd)); }
#if COIL_IO_URING_BUILT
    static void prep(io_uring_sqe& sqe, io_op& op) noexcept { io_uring_prep_close(&sqe, op.fd); }
#endif
};

}  // namespace coil::detail::ops
