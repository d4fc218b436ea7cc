#pragma once
// Waking an io_uring loop from another thread with a synchronous IORING_OP_MSG_RING message
// (io_uring_register(2) IORING_REGISTER_SEND_MSG_RING, Linux 6.13+; liburing 2.11 calls it
// io_uring_register_sync_msg): one syscall posts a CQE in the loop's ring. No fd is written and
// the loop re-arms nothing, against an eventfd write plus a read the loop must keep armed; and
// unlike a message sent from a ring of the waking thread's own, it needs no per-thread ring
// (an fd for every thread that ever posts, shared with a forked child). Measured by
// bench/wake_bench.cpp (docs/threading.md, "The wake back to the loop").

#include <liburing.h>

#include <cstdint>
#include <string>

namespace coil::detail {

/// At the loop ring's creation, on its thread: whether synchronous messages reach `target` on
/// this kernel. Sends one tagged `user_data` and reaps it from `target` (which must have no
/// other CQE yet). False with `why` filled where the kernel lacks it (before 6.13: EINVAL).
bool msg_ring_wake_probe(io_uring& target, std::uint64_t user_data, std::string& why) noexcept;

/// Posts a CQE with `user_data` (res 0) on the ring `target_ring_fd`. True: posted (or queued as
/// task work for the ring's thread). False: the caller must wake the loop another way. Any
/// thread; no locks; one syscall.
bool msg_ring_wake(int target_ring_fd, std::uint64_t user_data) noexcept;

}  // namespace coil::detail
