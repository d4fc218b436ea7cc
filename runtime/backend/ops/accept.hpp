#pragma once
// accept: accept4(2) on the listener op.fd with op.flags; the peer address goes to op.addr /
// op.addrlen (may be null). The result is a new fd: the backend closes it if the owner is gone.
// Factory and result: coil::accept() in runtime/io.hpp, to_fd.

#include "coil/runtime/backend/ops/op_traits.hpp"

namespace coil::detail::ops {

struct accept_op {
    static constexpr op_code code = op_code::accept;
    static constexpr op_traits traits{.waits_for = readiness::in,
                                      .remembers_readiness = true,
                                      .yields_fd = true};

    static int run(io_op& op) noexcept {
        return result_of(::accept4(op.fd, op.addr, op.addrlen, op.flags));
    }
#if COIL_IO_URING_BUILT
    static void prep(io_uring_sqe& sqe, io_op& op) noexcept {
        io_uring_prep_accept(&sqe, op.fd, op.addr, op.addrlen, op.flags);
    }
#endif
};

}  // namespace coil::detail::ops
