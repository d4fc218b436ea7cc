#pragma once
// accept_multishot (io_uring only, 5.19+): one submission, one completion per connection, each
// handed to op.on_multishot; each result >= 0 is a new fd (closed if the owner is gone). epoll
// answers -EINVAL at once (backend::supports_multishot_accept() says false there).
// Factory: runtime/acceptor.cpp (not public); its completions are converted there.

#include "coil/runtime/backend/ops/op_traits.hpp"

namespace coil::detail::ops {

struct accept_multishot_op {
    static constexpr op_code code = op_code::accept_multishot;
    static constexpr op_traits traits{.waits_for = readiness::in, .yields_fd = true};

    static int run(io_op& /*op*/) noexcept { return -EINVAL; }
#if COIL_IO_URING_BUILT
    static void prep(io_uring_sqe& sqe, io_op& op) noexcept {
        io_uring_prep_multishot_accept(&sqe, op.fd, nullptr, nullptr, op.flags);
    }
#endif
};

}  // namespace coil::detail::ops
