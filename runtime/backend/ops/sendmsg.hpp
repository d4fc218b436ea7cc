#pragma once
// sendmsg: sendmsg(2) of the msghdr at op.data (op.len: its buffers' total) with
// op.flags | MSG_NOSIGNAL (IORING_OP_SENDMSG on io_uring; epoll adds MSG_DONTWAIT).
// Factory and result: coil::sendmsg() in runtime/io.hpp, to_sent.

#include "coil/runtime/backend/ops/op_traits.hpp"

namespace coil::detail::ops {

struct sendmsg_op {
    static constexpr op_code code = op_code::sendmsg;
    static constexpr op_traits traits{.waits_for = readiness::out,
                                      .remembers_readiness = true,
                                      .transfers_data = true};

    static int run(io_op& op) noexcept {
        return result_of(::sendmsg(op.fd, static_cast<const msghdr*>(op.data),
                                   op.flags | MSG_DONTWAIT | MSG_NOSIGNAL));
    }
#if COIL_IO_URING_BUILT
    static void prep(io_uring_sqe& sqe, io_op& op) noexcept {
        io_uring_prep_sendmsg(&sqe, op.fd, static_cast<const msghdr*>(op.data),
                              static_cast<unsigned>(op.flags | MSG_NOSIGNAL));
    }
#endif
};

}  // namespace coil::detail::ops
