#include "coil/runtime/backend/msg_ring_wake.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace coil::detail {
namespace {

// From the kernel's uapi io_uring.h (Linux 6.13); liburing 2.3's copy predates it.
constexpr unsigned register_send_msg_ring = 31;

// 0 or -errno. No ring of the caller's: the register call is "blind" (fd -1).
int send_sync_message(int target_ring_fd, std::uint64_t user_data) noexcept {
    io_uring_sqe sqe{};
    io_uring_prep_msg_ring(&sqe, target_ring_fd, 0, user_data, 0);
    const long r = ::syscall(__NR_io_uring_register, -1, register_send_msg_ring, &sqe, 1);
    return r < 0 ? -errno : 0;
}

}  // namespace

bool msg_ring_wake_probe(io_uring& target, std::uint64_t user_data, std::string& why) noexcept {
    if (const int err = send_sync_message(target.ring_fd, user_data); err < 0) {
        why = std::string("no synchronous IORING_OP_MSG_RING (Linux 6.13+): ") + std::strerror(-err);
        return false;
    }
    // On a DEFER_TASKRUN target the message waits as task work for an enter with GETEVENTS.
    io_uring_enter(target.ring_fd, 0, 0, IORING_ENTER_GETEVENTS, nullptr);
    bool arrived = false;
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&target, head, cqe) {
        ++seen;
        if (cqe->user_data == user_data) arrived = true;
    }
    io_uring_cq_advance(&target, seen);
    if (!arrived) why = "IORING_OP_MSG_RING: the probe's message did not arrive";
    return arrived;
}

bool msg_ring_wake(int target_ring_fd, std::uint64_t user_data) noexcept {
    return send_sync_message(target_ring_fd, user_data) == 0;
}

}  // namespace coil::detail
