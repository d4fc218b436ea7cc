#pragma once
// The io_uring backend: completion-based I/O through liburing.
//
// start() only fills an SQE; SQEs are submitted together once per loop turn, in the same
// io_uring_enter that waits for completions. The ring asks for SINGLE_ISSUER + DEFER_TASKRUN
// (completions run in our enter, not as interrupts), else COOP_TASKRUN, else plain setup.
// user_data is the io_op's address; the op lives in its awaiter, which never dies while the op is
// in flight (abandon() cancels and reaps until the op's own CQE has arrived).
// Cross-thread wakes: a synchronous IORING_OP_MSG_RING message where the kernel has it (Linux
// 6.13+, probed at creation), else a write to an eventfd whose read stays armed.
// Threading: loop thread only, except wake().

#include <liburing.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "coil/runtime/backend/backend.hpp"
#include "coil/runtime/backend/buffer_ring.hpp"

namespace coil::detail {

class uring_backend final : public backend {
public:
    /// Null (with `why` filled) if the kernel refuses the ring or lacks an opcode coil uses.
    static std::unique_ptr<uring_backend> create(ready_queue& ready, std::string& why);
    ~uring_backend() override;

    backend_kind kind() const noexcept override { return backend_kind::io_uring; }
    bool start(io_op& op) noexcept override;
    void cancel(io_op& op) noexcept override;
    void abandon(io_op& op) noexcept override;
    void poll(std::optional<std::chrono::nanoseconds> timeout) override;
    void wake() noexcept override;
    void use_eventfd_wake() noexcept override;
    std::string_view wake_method() const noexcept override;
    void register_fd(int fd) noexcept override;
    void cancel_fd(int fd) noexcept override;
    void forget_fd(int fd) noexcept override;
    bool supports_multishot_accept() const noexcept override { return multishot_accept_; }
    bool feed_buffer_pool(buffer_pool& pool) noexcept override;
    bool supports_multishot_recv() const noexcept override { return buffers_ != nullptr && multishot_recv_; }
    std::size_t in_flight() const noexcept override { return in_flight_; }
    const loop_stats& stats() const noexcept override { return stats_; }
    std::string description() const override;

    uring_backend(ready_queue& ready, const io_uring& ring, unsigned flags, int wake_fd) noexcept;

private:
    io_uring_sqe* next_sqe() noexcept;
    void prep(io_uring_sqe& sqe, io_op& op) noexcept;
    void prep_readiness_wait(io_uring_sqe& sqe, io_op& op) noexcept;
    void arm_wake_read() noexcept;
    void setup_fixed_files() noexcept;
    void use_fixed_file(io_uring_sqe& sqe, const io_op& op) const noexcept;
    void queue_cancel(std::uint64_t user_data, int fd) noexcept;
    void flush_pending_cancels() noexcept;
    void forget_pending_cancel(const io_op& op) noexcept;
    void enter(std::optional<std::chrono::nanoseconds> timeout);
    void count_enter(unsigned sq_ready_before) noexcept;
    void reap() noexcept;
    void on_completion(std::uint64_t user_data, int res, unsigned flags) noexcept;
    void on_multishot_completion(io_op& op, int res, unsigned flags) noexcept;
    bool pooled_readiness_done(io_op& op, int& res) noexcept;

    ready_queue& ready_;
    io_uring ring_;
    unsigned setup_flags_;
    int wake_fd_;
    bool wake_armed_ = false;
    // Wakes from other threads go by IORING_OP_MSG_RING (msg_ring_wake.hpp) where the probe at
    // creation found it works; set before the loop is shared, read by wake() on any thread.
    bool msg_ring_wake_ = false;
    // A wake message was sent and its CQE not reaped yet: wake() sends no other meanwhile. The
    // loop runs its posted work every turn but enters the kernel only when it has I/O to submit
    // or in flight or nothing else to do, and on a DEFER_TASKRUN ring a message becomes a CQE
    // only in such an enter: without this, a busy loop with no I/O lowers its "posted" flag
    // every turn and each next post sends one more message, piling up kernel task work and
    // then CQEs past the CQ's size. Any thread raises it (exchange), the loop lowers it on the
    // message's CQE; read-modify-writes only, so a waker that finds it raised has its posted
    // flag seen by the loop before it next waits (it never waits with that flag raised).
    std::atomic<bool> msg_wake_in_flight_{false};
    std::string wake_note_;
    bool multishot_accept_ = true;            // until a kernel rejects it
    bool multishot_accept_confirmed_ = false;  // a multishot accept has worked on this ring
    bool multishot_recv_ = true;              // until a kernel rejects it
    bool multishot_recv_confirmed_ = false;
    std::size_t in_flight_ = 0;
    // The loop's receive pool as a provided buffer ring (pooled receives); null until the first
    // recv_pooled, or when the kernel has none (buffer_ring_note_ says why).
    std::unique_ptr<buffer_ring> buffers_;
    std::string buffer_ring_note_ = "provided buffer ring: not set up yet";
    loop_stats stats_;
    // Fixed-file table: slot i holds fd i while registered (so the lookup is the fd itself).
    std::vector<std::uint8_t> fixed_;
    // Cancels that found the SQ full (the kernel refuses submissions while the CQ overflows):
    // issued after the next reap. {user_data, -1} cancels one op; {0, fd} all ops on an fd.
    std::vector<std::pair<std::uint64_t, int>> pending_cancels_;
};

}  // namespace coil::detail
