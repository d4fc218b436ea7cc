#include "coil/runtime/backend/sys_op.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "coil/runtime/detail/buffer_pool.hpp"

namespace coil::detail {
namespace {

constexpr std::uint8_t connect_in_progress = 1;
constexpr std::uint64_t current_position = ~std::uint64_t{0};

int result_of(long r) noexcept { return r >= 0 ? static_cast<int>(r) : -errno; }

int poll_now(int fd, short events) noexcept {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, 0);
    if (n < 0) return -errno;
    if (n == 0) return -EAGAIN;
    return (p.revents & POLLNVAL) ? -EBADF : 0;
}

int connect_step(io_op& op) noexcept {
    if (op.backend_stage != connect_in_progress) {
        if (::connect(op.fd, op.addr, op.connect_len) == 0) return 0;
        if (errno != EINPROGRESS) return -errno;
        op.backend_stage = connect_in_progress;
        return -EAGAIN;
    }
    // Writable now (or an error): the handshake has finished; SO_ERROR says how.
    if (poll_now(op.fd, POLLOUT) == -EAGAIN) return -EAGAIN;
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(op.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
    return -err;
}

// Reads into a pool buffer taken only now that the socket is (said to be) readable; gives it
// back at once unless data arrived.
int recv_into_pool(io_op& op) noexcept {
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

int once(io_op& op) noexcept {
    switch (op.code) {
        case op_code::nop: return 0;
        case op_code::read:
            return result_of(op.offset == current_position
                                 ? ::read(op.fd, op.data, op.len)
                                 : ::pread(op.fd, op.data, op.len, static_cast<off_t>(op.offset)));
        case op_code::write:
            return result_of(op.offset == current_position
                                 ? ::write(op.fd, op.data, op.len)
                                 : ::pwrite(op.fd, op.data, op.len, static_cast<off_t>(op.offset)));
        case op_code::recv:
            return result_of(::recv(op.fd, op.data, op.len, op.flags | MSG_DONTWAIT));
        case op_code::send:
            return result_of(::send(op.fd, op.data, op.len, op.flags | MSG_DONTWAIT | MSG_NOSIGNAL));
        case op_code::sendmsg:
            return result_of(::sendmsg(op.fd, static_cast<const msghdr*>(op.data),
                                       op.flags | MSG_DONTWAIT | MSG_NOSIGNAL));
        case op_code::accept: return result_of(::accept4(op.fd, op.addr, op.addrlen, op.flags));
        case op_code::accept_multishot: return -EINVAL;  // io_uring only
        case op_code::connect: return connect_step(op);
        case op_code::close: return result_of(::close(op.fd));
        case op_code::poll_readable: return poll_now(op.fd, POLLIN);
        case op_code::poll_writable: return poll_now(op.fd, POLLOUT);
        case op_code::recv_pooled: return recv_into_pool(op);
        case op_code::recv_multishot: return -EINVAL;  // io_uring only
    }
    return -EINVAL;
}

}  // namespace

int run_syscall(io_op& op) noexcept {
    if (op.code == op_code::close) return once(op);  // never retry close(2), even on EINTR
    int res;
    do {
        res = once(op);
    } while (res == -EINTR);
    return res == -EWOULDBLOCK ? -EAGAIN : res;
}

}  // namespace coil::detail
