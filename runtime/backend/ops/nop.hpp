#pragma once
// nop: does nothing, through the backend (io_uring: a NOP SQE and its CQE; epoll: at once).
// Factory and result: coil::nop() in runtime/io.hpp, to_void.

#include "coil/runtime/backend/ops/op_traits.hpp"

namespace coil::detail::ops {

struct nop_op {
    static constexpr op_code code = op_code::nop;
    static constexpr op_traits traits{};

    static int run(io_op& /*op*/) noexcept { return 0; }
#if COIL_IO_URING_BUILT
    static void prep(io_uring_sqe& sqe, io_op& /*op*/) noexcept { io_uring_prep_nop(&sqe); }
#endif
};

}  // namespace coil::detail::ops
