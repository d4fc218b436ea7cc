#pragma once
// recv: recv(2) into op.data (op.len bytes) with op.flags (epoll adds MSG_DONTWAIT).
// Factory and result: coil::recv() in runtime/io.hpp, to_received (0 bytes: errc::eof).

#include "coil/runtime/backend/ops/op_traits.hpp"

namespace coil::detail::ops {

struct recv_op {
    static constexpr op_code code = op_code::recv;
    static constexpr op_traits traits{.waits_for = readiness::in,
                                      .remembers_readiness = true,
                                      .transfers_data = true};

    static int run(io_op& op) noexcept {
        return result_of(::recv(op.fd, op.data, op.len, op.flags | MSG_DONTWAIT));
    }
#if COIL_IO_URING_BUILT
    static void prep(io_uring_sqe& sqe, io_op& op) noexcept {
        io_uring_prep_recv(&sqe, op.fd, op.data, op.len, op.flags);
    }
#endif
};

}  // namespace coil::detail::ops
