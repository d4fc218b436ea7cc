#include "coil/runtime/backend/sys_op.hpp"

#include <cerrno>

#include "coil/runtime/backend/ops/dispatch.hpp"

namespace coil::detail {

int run_syscall(io_op& op) noexcept {
    // A close is never retried, even on EINTR: the fd is released either way (close(2)).
    if (ops::traits_of(op.code).closes_fd) return ops::run_once(op);
    int res;
    do {
        res = ops::run_once(op);
    } while (res == -EINTR);
    return res == -EWOULDBLOCK ? -EAGAIN : res;
}

}  // namespace coil::detail
