#pragma once
// One in-flight I/O operation, as the backends see it.
//
// An io_op lives inside the awaiter that started it, i.e. in the awaiting coroutine's frame; its
// address is the io_uring user_data and the epoll wait-list entry. That is safe because an awaiter
// never dies with its op in flight: its destructor calls event_loop::abandon, which returns only
// once the backend has delivered the op's completion (io_uring: cancel, then reap until the CQE
// arrives; epoll: unlink from the wait list; nothing is in the kernel). See docs/lifetimes.md.

#include <sys/socket.h>

#include <cstdint>

#include "coil/runtime/detail/ready_queue.hpp"

namespace coil::detail {

// What each op does, per backend, is in its own type under runtime/backend/ops/ (one header per
// op; ops/dispatch.hpp maps a code to its type). Its public factory is in runtime/io.hpp.
enum class op_code : std::uint8_t {
    nop,
    read,
    write,
    recv,
    send,
    sendmsg,  // data: the msghdr (its iovecs and buffers stay valid until completion); len: total
    recvmsg,  // data: the msghdr (kernel writes msg_namelen, msg_flags and the buffers); len: total
    accept,
    accept_multishot,  // io_uring only: one submission, a completion per connection
    connect,
    close,
    poll_readable,
    poll_writable,
    // Pooled receives (runtime/pooled_recv.hpp). recv_pooled: one receive into a buffer taken
    // from the loop's pool only once the socket is readable (epoll, and io_uring without a
    // provided buffer ring); data: the detail::buffer_pool* going in, the buffer coming out (with
    // `buffer` its id); len: the pool's buffer size. recv_multishot (io_uring only): a multishot
    // recv selecting buffers from the loop's provided buffer ring; each completion's buffer id is
    // in `buffer` when on_multishot is called.
    recv_pooled,
    recv_multishot,
    count_,  // not an operation: the number of op codes (keep it last)
};

struct io_op : ready_node {
    op_code code = op_code::nop;
    bool in_flight = false;         // started, completion not yet delivered
    bool abandoned = false;         // the awaiter is going away: the completion only frees resources
    bool cancel_requested = false;  // a cancel was asked for (it may still lose the race)
    std::uint8_t backend_stage = 0; // private to the backend (e.g. "waiting for readiness first")
    std::uint16_t buffer = 0xffff;  // recv_pooled / recv_multishot: the pool buffer id, 0xffff: none
    int fd = -1;
    int res = 0;                    // >= 0: the syscall's result; < 0: -errno

    // Arguments; which ones count depends on `code`.
    void* data = nullptr;                 // read/write/recv/send buffer; sendmsg/recvmsg: msghdr*
    std::uint32_t len = 0;
    int flags = 0;                        // recv/send msg flags, accept4 flags
    std::uint64_t offset = ~std::uint64_t{0};  // read/write: file offset, ~0 = current position
    sockaddr* addr = nullptr;             // accept: peer address out (may be null); connect: target
    socklen_t* addrlen = nullptr;         // accept: in/out length
    socklen_t connect_len = 0;            // connect: length of *addr

    // Multishot ops: called for each completion instead of queueing the op; `more` is false on
    // the last one (the op is then no longer in flight). Not called once the op is abandoned.
    void (*on_multishot)(io_op& op, int res, bool more) noexcept = nullptr;

    // epoll: the fd's list of ops waiting for readiness.
    io_op* wait_prev = nullptr;
    io_op* wait_next = nullptr;
};

}  // namespace coil::detail
