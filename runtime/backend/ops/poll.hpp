#pragma once
// poll_readable / poll_writable: complete once op.fd is readable / writable (or has an error or
// hang-up pending); the result is 0 (epoll: poll(2) without waiting; io_uring: POLL_ADD, whose
// result is the event mask, reported as >= 0).
// Factories and result: coil::wait_readable() / wait_writable() in runtime/io.hpp, to_void.

#include "coil/runtime/backend/ops/op_traits.hpp"

namespace coil::detail::ops {

template <op_code Code, short Events, readiness Waits>
struct poll_op {
    static constexpr op_code code = Code;
    static constexpr op_traits traits{.waits_for = Waits};

    static int run(io_op& op) noexcept { return poll_now(op.fd, Events); }
#if COIL_IO_URING_BUILT
    static void prep(io_uring_sqe& sqe, io_op& op) noexcept {
        io_uring_prep_poll_add(&sqe, op.fd, static_cast<unsigned>(Events));
    }
#endif
};

using poll_readable_op = poll_op<op_code::poll_readable, POLLIN, readiness::in>;
using poll_writable_op = poll_op<op_code::poll_writable, POLLOUT, readiness::out>;

}  // namespace coil::detail::ops
