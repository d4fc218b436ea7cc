#pragma once
// read: read(2)/pread(2) into op.data (op.len bytes) at op.offset (~0: the current position).
// Files and pipes as well as sockets, so no readiness memory. On io_uring an O_NONBLOCK fd
// completes with -EAGAIN instead of waiting: the backend polls for input and issues it again.
// Factory and result: coil::read() in runtime/io.hpp, to_received (0 bytes: errc::eof).

#include "coil/runtime/backend/ops/op_traits.hpp"

namespace coil::detail::ops {

struct read_op {
    static constexpr op_code code = op_code::read;
    static constexpr op_traits traits{.waits_for = readiness::in,
                                      .transfers_data = true,
                                      .reissues_after_poll = true};

    static int run(io_op& op) noexcept {
        return result_of(op.offset == at_current_position
                             ? ::read(op.fd, op.data, op.len)
                             : ::pread(op.fd, op.data, op.len, static_cast<off_t>(op.offset)));
    }
#if COIL_IO_URING_BUILT
    static void prep(io_uring_sqe& sqe, io_op& op) noexcept {
        io_uring_prep_read(&sqe, op.fd, op.data, op.len, op.offset);
    }
#endif
};

}  // namespace coil::detail::ops
