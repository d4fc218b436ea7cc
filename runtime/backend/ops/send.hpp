#pragma once
// send: send(2) of op.data (op.len bytes) with op.flags | MSG_NOSIGNAL (a closed peer gives
// EPIPE, never SIGPIPE; epoll adds MSG_DONTWAIT).
// Factory and result: coil::send() in runtime/io.hpp, to_sent.

#include "coil/runtime/backend/ops/op_traits.hpp"

namespace coil::detail::ops {

struct send_op {
    static constexpr op_code code = op_code::send;
    static constexpr op_traits traits{.waits_for = readiness::out,
                                      .remembers_readiness = true,
                                      .transfers_data = true};

    static int run(io_op& op) noexcept {
        return result_of(::send(op.fd, op.data, op.len, op.flags | MSG_DONTWAIT | MSG_NOSIGNAL));
    }
#if COIL_IO_URING_BUILT
    static void prep(io_uring_sqe& sqe, io_op& op) noexcept {
        io_uring_prep_send(&sqe, op.fd, op.data, op.len, op.flags | MSG_NOSIGNAL);
    }
#endif
};

}  // namespace coil::detail::ops
