#pragma once
// The plain non-blocking syscall behind each io_op, for the epoll backend: the op's own run()
// (runtime/backend/ops/), retried on EINTR (close never is). Returns the result, or -errno;
// -EAGAIN (EWOULDBLOCK too) means "not ready, wait for readiness".

#include "coil/runtime/detail/io_op.hpp"

namespace coil::detail {

int run_syscall(io_op& op) noexcept;

}  // namespace coil::detail
