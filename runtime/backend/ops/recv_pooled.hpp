#pragma once
// recv_pooled: one receive into a buffer of the loop's receive pool, taken only once the socket
// is (said to be) readable, so a waiting receive holds no buffer. op.data: the buffer_pool*
// going in; on success the buffer coming out (op.buffer its id, buffer_pool::heap_id for a heap
// one when the pool was empty); op.len: the pool's buffer size. A result <= 0 gives the buffer
// back at once. epoll: the syscall when readiness memory allows, else wait for input. io_uring
// (no provided buffer ring): POLL_ADD for input, then this syscall, non-blocking, from the
// completion (uring_backend::pooled_readiness_done); never an IORING_OP_RECV into a pool buffer,
// which would hold it while it waits.
// Factory and result: coil::pooled_recv_awaitable (runtime/pooled_recv.cpp).

#include "coil/runtime/backend/ops/op_traits.hpp"
#include "coil/runtime/detail/buffer_pool.hpp"

namespace coil::detail::ops {

struct recv_pooled_op {
    static constexpr op_code code = op_code::recv_pooled;
    // transfers_data: a receive shorter than the buffer drained the socket (epoll's readiness
    // memory); op.len, the pool's buffer size, is never 0, so the 0-byte shortcut never applies.
    static constexpr op_traits traits{.waits_for = readiness::in,
                                      .remembers_readiness = true,
                                      .transfers_data = true};

    static int run(io_op& op) noexcept {
        auto& pool = *static_cast<buffer_pool*>(op.data);
        const buffer_pool::taken b = pool.take();
        if (b.data == nullptr) return -ENOMEM;
        const int res = result_of(::recv(op.fd, b.data, op.len, op.flags | MSG_DONTWAIT));
        if (res <= 0) {
            pool.give_back(b.id, b.data);
            return res;
        }
        op.data = b.data;  // completed: the op now carries the buffer (never retried after this)
        op.buffer = b.id;
        return res;
    }
#if COIL_IO_URING_BUILT
    static void prep(io_uring_sqe& sqe, io_op& op) noexcept {
        io_uring_prep_poll_add(&sqe, op.fd, POLLIN);  // the receive itself follows readiness
    }
#endif
};

}  // namespace coil::detail::ops
