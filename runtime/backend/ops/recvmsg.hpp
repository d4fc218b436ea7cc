#pragma once
// recvmsg: recvmsg(2) into the msghdr at op.data (op.len: its buffers' total) with op.flags
// (IORING_OP_RECVMSG on io_uring, which writes msg_namelen and msg_flags back into the msghdr as
// the syscall does; epoll adds MSG_DONTWAIT and waits for readability on EAGAIN).
// empty_is_a_message: on a datagram socket a 0-byte recvmsg still takes one datagram, and an
// empty datagram is a message, so it always reaches the kernel. A short result marks only a
// stream socket drained (epoll_backend's note_result): one call takes one datagram.
// Factory and result: coil::recvmsg() in runtime/io.hpp, to_count (0 stays 0, never eof).

#include "coil/runtime/backend/ops/op_traits.hpp"

namespace coil::detail::ops {

struct recvmsg_op {
    static constexpr op_code code = op_code::recvmsg;
    static constexpr op_traits traits{.waits_for = readiness::in,
                                      .remembers_readiness = true,
                                      .transfers_data = true,
                                      .empty_is_a_message = true};

    static int run(io_op& op) noexcept {
        return result_of(::recvmsg(op.fd, static_cast<msghdr*>(op.data), op.flags | MSG_DONTWAIT));
    }
#if COIL_IO_URING_BUILT
    static void prep(io_uring_sqe& sqe, io_op& op) noexcept {
        io_uring_prep_recvmsg(&sqe, op.fd, static_cast<msghdr*>(op.data), static_cast<unsigned>(op.flags));
    }
#endif
};

}  // namespace coil::detail::ops
