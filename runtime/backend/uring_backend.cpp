#include "coil/runtime/backend/uring_backend.hpp"

#include <poll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "coil/runtime/backend/msg_ring_wake.hpp"
#include "coil/runtime/backend/sys_op.hpp"
#include "coil/runtime/backend/ops/dispatch.hpp"
#include "coil/runtime/log.hpp"

namespace coil::detail {
namespace {

constexpr unsigned sq_entries = 1024;
constexpr unsigned cq_entries = 16384;

// user_data values that are not io_op addresses (ops are at least 8-byte aligned).
constexpr std::uint64_t ignored_tag = 0;  // cancel requests: their own CQE carries nothing for us
constexpr std::uint64_t wake_tag = 1;     // the read on the wake eventfd
constexpr std::uint64_t msg_wake_tag = 2; // an IORING_OP_MSG_RING wake from another thread

constexpr std::uint8_t stage_waiting_readiness = 1;



// Where the wake read puts the eventfd's counter. Nobody reads the value; what matters is that
// the memory outlives every ring: io_uring_queue_exit only closes the ring fd, and the kernel
// finishes or cancels outstanding requests afterwards, after the backend may be gone. A
// process-lifetime sink is safe whichever ring (or thread) writes it last.
std::uint64_t wake_read_sink = 0;

constexpr std::array required_opcodes = {
    IORING_OP_NOP,     IORING_OP_READ,    IORING_OP_WRITE,   IORING_OP_RECV,    IORING_OP_SEND,
    IORING_OP_SENDMSG, IORING_OP_RECVMSG, IORING_OP_ACCEPT,  IORING_OP_CONNECT, IORING_OP_CLOSE,
    IORING_OP_POLL_ADD, IORING_OP_ASYNC_CANCEL,
};

std::string flag_names(unsigned flags) {
    std::string out;
    auto add = [&](unsigned bit, const char* name) {
        if (!(flags & bit)) return;
        if (!out.empty()) out += '|';
        out += name;
    };
    add(IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER");
    add(IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN");
    add(IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN");
    add(IORING_SETUP_SUBMIT_ALL, "SUBMIT_ALL");
    return out.empty() ? "plain setup" : out;
}

// Tries the ring set-ups from the most to the least capable; returns 0 or -errno of the last try.
int init_ring(io_uring& ring, unsigned& flags_used) {
    const unsigned common = IORING_SETUP_CQSIZE;
    const std::array<unsigned, 4> attempts = {
        common | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        common | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
        common,
        0,
    };
    int err = -EINVAL;
    for (unsigned flags : attempts) {
        io_uring_params params{};
        params.flags = flags;
        params.cq_entries = cq_entries;
        err = io_uring_queue_init_params(sq_entries, &ring, &params);
        if (err == 0) {
            flags_used = flags;
            return 0;
        }
        if (err != -EINVAL) return err;  // ENOSYS, EPERM, ENOMEM...: no flag choice will help
    }
    return err;
}

std::string missing_opcode(io_uring& ring) {
    io_uring_probe* probe = io_uring_get_probe_ring(&ring);
    if (probe == nullptr) return "the kernel cannot probe opcodes (older than 5.6)";
    std::string missing;
    for (int op : required_opcodes) {
        // Appended piecewise: `" " + std::to_string(op)` draws a false -Wrestrict from GCC 12
        // at -O3 inside libstdc++ (GCC PR105329), an error in -Werror builds.
        if (!io_uring_opcode_supported(probe, op)) missing.append(" ").append(std::to_string(op));
    }
    io_uring_free_probe(probe);
    return missing.empty() ? std::string() : "unsupported opcodes:" + missing;
}

// Submits the queued SQEs and reaps finished work without waiting, in one io_uring_enter.
// GETEVENTS matters: a DEFER_TASKRUN ring posts completions only while we are in the kernel with
// it. liburing 2.4 names this io_uring_submit_and_get_events(); Debian 12 ships 2.3, so this
// publishes the SQ tail the way liburing 2.3's internal __io_uring_flush_sq does (no SQPOLL).
int submit_and_get_events(io_uring& ring) noexcept {
    io_uring_sq& sq = ring.sq;
    const unsigned tail = sq.sqe_tail;
    if (sq.sqe_head != tail) {
        sq.sqe_head = tail;
        io_uring_smp_store_release(sq.ktail, tail);
    }
    const unsigned to_submit = tail - io_uring_smp_load_acquire(sq.khead);
    return io_uring_enter(ring.ring_fd, to_submit, 0, IORING_ENTER_GETEVENTS, nullptr);
}

}  // namespace

std::unique_ptr<backend> make_uring_backend(ready_queue& ready, std::string& why) {
    return uring_backend::create(ready, why);
}

std::unique_ptr<uring_backend> uring_backend::create(ready_queue& ready, std::string& why) {
    io_uring ring{};
    unsigned flags = 0;
    if (const int err = init_ring(ring, flags); err < 0) {
        why = std::string("io_uring_setup failed: ") + std::strerror(-err);
        return nullptr;
    }
    if (std::string missing = missing_opcode(ring); !missing.empty()) {
        io_uring_queue_exit(&ring);
        why = missing;
        return nullptr;
    }
    // Blocking eventfd on purpose: io_uring arms a poll for it, while a non-blocking one would
    // complete the read at once with -EAGAIN.
    const int wake_fd = ::eventfd(0, EFD_CLOEXEC);
    if (wake_fd < 0) {
        why = std::string("eventfd failed: ") + std::strerror(errno);
        io_uring_queue_exit(&ring);
        return nullptr;
    }
    auto made = std::make_unique<uring_backend>(ready, ring, flags, wake_fd);
    std::string no_msg_ring;
    made->msg_ring_wake_ = msg_ring_wake_probe(made->ring_, msg_wake_tag, no_msg_ring);
    made->wake_note_ = made->msg_ring_wake_ ? "wakes by IORING_OP_MSG_RING"
                                            : "wakes by eventfd (" + no_msg_ring + ")";
    return made;
}

uring_backend::uring_backend(ready_queue& ready, const io_uring& ring, unsigned flags,
                             int wake_fd) noexcept
    : ready_(ready), ring_(ring), setup_flags_(flags), wake_fd_(wake_fd) {
    setup_fixed_files();
}

void uring_backend::setup_fixed_files() noexcept {
    // A sparse table as large as the fd limit allows (the kernel caps it there), up to 64 Ki
    // slots. Without it (kernels before 5.19) every op simply uses its plain fd.
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    const auto slots = static_cast<unsigned>(std::min<rlim_t>(limit.rlim_cur, 65536));
    if (slots == 0) return;
    ++stats_.ctl_syscalls;
    if (io_uring_register_files_sparse(&ring_, slots) < 0) return;
    try {
        fixed_.assign(slots, 0);
    } catch (...) {
        io_uring_unregister_files(&ring_);
    }
}

void uring_backend::register_fd(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fixed_.size() || fixed_[static_cast<std::size_t>(fd)]) return;
    ++stats_.ctl_syscalls;
    if (io_uring_register_files_update(&ring_, static_cast<unsigned>(fd), &fd, 1) == 1) {
        fixed_[static_cast<std::size_t>(fd)] = 1;
    }
}

void uring_backend::forget_fd(int fd) noexcept {
    // The slot would otherwise keep the old file open and route a reused fd number's ops to it.
    if (fd < 0 || static_cast<std::size_t>(fd) >= fixed_.size() || !fixed_[static_cast<std::size_t>(fd)]) return;
    int empty = -1;
    ++stats_.ctl_syscalls;
    io_uring_register_files_update(&ring_, static_cast<unsigned>(fd), &empty, 1);
    fixed_[static_cast<std::size_t>(fd)] = 0;
}

void uring_backend::use_fixed_file(io_uring_sqe& sqe, const io_op& op) const noexcept {
    if (op.fd < 0 || ops::traits_of(op.code).closes_fd) return;  // close takes a real fd
    const auto slot = static_cast<std::size_t>(op.fd);
    if (slot < fixed_.size() && fixed_[slot]) sqe.flags |= IOSQE_FIXED_FILE;  // sqe.fd is the slot
}

uring_backend::~uring_backend() {
    // Every op was abandoned or completed before the loop let go of us. The wake read may still
    // be armed; the kernel ends it after the ring closes, writing (if at all) only into the
    // process-lifetime wake_read_sink. The buffer ring goes first: unregistering needs the ring.
    buffers_.reset();
    io_uring_queue_exit(&ring_);
    ::close(wake_fd_);
}

std::string uring_backend::description() const {
    return flag_names(setup_flags_) + ", " + std::to_string(ring_.sq.ring_entries) + " SQ / " +
           std::to_string(ring_.cq.ring_entries) + " CQ entries, " + wake_note_ + ", " + buffer_ring_note_;
}

bool uring_backend::feed_buffer_pool(buffer_pool& pool) noexcept {
    std::string why;
    buffers_ = buffer_ring::create(ring_, pool, ops::pool_buffer_group, why);
    if (buffers_ == nullptr) {
        // Pooled receives still work, the epoll way: wait for readiness, then recv into a buffer.
        buffer_ring_note_ = "no provided buffer ring (" + why + "): pooled receives wait for readiness, then recv";
        log(log_level::warning, "io_uring: " + buffer_ring_note_);
        return false;
    }
    buffer_ring_note_ = "provided buffer ring of " + std::to_string(pool.count()) + " x " +
                        std::to_string(pool.buffer_size()) + " B for multishot recv";
    return true;
}

io_uring_sqe* uring_backend::next_sqe() noexcept {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
        // The SQ is full within one turn: hand what we have to the kernel now.
        const unsigned queued = io_uring_sq_ready(&ring_);
        io_uring_submit(&ring_);
        count_enter(queued);
        sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
}

void uring_backend::prep(io_uring_sqe& sqe, io_op& op) noexcept {
    // KERNEL-OWNS: op.data / op.addr / op.addrlen point into the awaiter (or the buffer the
    // awaiter borrows); the awaiter's destructor calls abandon(), which returns only after this
    // op's CQE, so they outlive every kernel access.
    ops::prep(sqe, op);
    use_fixed_file(sqe, op);
    io_uring_sqe_set_data64(&sqe, reinterpret_cast<std::uintptr_t>(&op));
}

void uring_backend::prep_readiness_wait(io_uring_sqe& sqe, io_op& op) noexcept {
    const unsigned events = ops::traits_of(op.code).waits_for == ops::readiness::out ? POLLOUT : POLLIN;
    io_uring_prep_poll_add(&sqe, op.fd, events);
    use_fixed_file(sqe, op);
    io_uring_sqe_set_data64(&sqe, reinterpret_cast<std::uintptr_t>(&op));
}

bool uring_backend::start(io_op& op) noexcept {
    const bool closes_fd = ops::traits_of(op.code).closes_fd;
    if (closes_fd) forget_fd(op.fd);  // empty its fixed slot first
    io_uring_sqe* sqe = next_sqe();
    if (sqe == nullptr) {
        // The kernel refuses new work until we reap. A close must still happen (its fd has left
        // its owner): do it synchronously. Anything else reports EBUSY to its caller.
        if (closes_fd) ++stats_.op_syscalls;
        op.res = closes_fd ? ops::run_once(op) : -EBUSY;
        return true;
    }
    prep(*sqe, op);
    op.in_flight = true;
    ++in_flight_;
    return false;
}

void uring_backend::queue_cancel(std::uint64_t user_data, int fd) noexcept {
    io_uring_sqe* sqe = next_sqe();
    if (sqe == nullptr) {
        try {
            pending_cancels_.emplace_back(user_data, fd);
        } catch (...) {
            // Out of memory as well: the op then ends on its own (data, peer close, timeout).
        }
        return;
    }
    if (fd >= 0) {
        io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);  // Linux 5.19+
    } else {
        io_uring_prep_cancel64(sqe, user_data, 0);
    }
    io_uring_sqe_set_data64(sqe, ignored_tag);
}

void uring_backend::flush_pending_cancels() noexcept {
    if (pending_cancels_.empty()) return;
    auto pending = std::move(pending_cancels_);
    pending_cancels_.clear();
    for (auto [user_data, fd] : pending) queue_cancel(user_data, fd);
}

void uring_backend::forget_pending_cancel(const io_op& op) noexcept {
    // A cancel still waiting for an SQE must not outlive its op: the address may be reused.
    if (pending_cancels_.empty()) return;
    const auto user_data = reinterpret_cast<std::uintptr_t>(&op);
    std::erase_if(pending_cancels_, [&](const auto& c) { return c.first == user_data && c.second < 0; });
}

void uring_backend::cancel(io_op& op) noexcept {
    op.cancel_requested = true;
    if (!op.in_flight) return;
    queue_cancel(reinterpret_cast<std::uintptr_t>(&op), -1);
}

void uring_backend::cancel_fd(int fd) noexcept { queue_cancel(0, fd); }

void uring_backend::abandon(io_op& op) noexcept {
    op.abandoned = true;
    if (!op.in_flight) return;
    cancel(op);
    // The awaiter is about to be destroyed: wait here until the kernel is done with the op. Only
    // this op matters; other completions reaped meanwhile are queued as usual.
    while (op.in_flight) {
        flush_pending_cancels();
        const unsigned queued = io_uring_sq_ready(&ring_);
        const int r = io_uring_submit_and_wait(&ring_, 1);
        count_enter(queued);
        if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY && r != -ETIME) {
            log(log_level::error, std::string("io_uring wait failed while draining a cancelled "
                                              "operation; aborting to avoid a use-after-free: ") +
                                      std::strerror(-r));
            std::abort();
        }
        reap();
    }
}

void uring_backend::arm_wake_read() noexcept {
    if (wake_armed_) return;
    io_uring_sqe* sqe = next_sqe();
    if (sqe == nullptr) return;
    // KERNEL-OWNS: wake_read_sink lives as long as the process, longer than any ring.
    io_uring_prep_read(sqe, wake_fd_, &wake_read_sink, sizeof wake_read_sink, 0);
    io_uring_sqe_set_data64(sqe, wake_tag);
    wake_armed_ = true;
}

void uring_backend::count_enter(unsigned sq_ready_before) noexcept {
    // The kernel moved the SQ head past what it consumed; what is still queued stays counted
    // for the submit that takes it.
    ++stats_.kernel_enters;
    const unsigned consumed = sq_ready_before - io_uring_sq_ready(&ring_);
    if (consumed == 0) return;
    stats_.sqes_submitted += consumed;
    ++stats_.submits;
}

void uring_backend::enter(std::optional<std::chrono::nanoseconds> timeout) {
    int r;
    const unsigned queued = io_uring_sq_ready(&ring_);
    if (!timeout) {
        r = io_uring_submit_and_wait(&ring_, 1);  // always enters (it waits)
        count_enter(queued);
    } else if (timeout->count() <= 0) {
        // Other tasks are ready: don't wait. Skip the syscall when it could achieve nothing.
        if (queued == 0 && in_flight_ == 0) return;
        r = submit_and_get_events(ring_);
        count_enter(queued);
    } else {
        // Any positive count is valid: the kernel clamps a timespec beyond its range.
        __kernel_timespec ts{};
        ts.tv_sec = timeout->count() / 1'000'000'000;
        ts.tv_nsec = timeout->count() % 1'000'000'000;
        io_uring_cqe* cqe = nullptr;
        // liburing (kernel 5.11+, EXT_ARG) enters only when it has SQEs to submit or no CQE to
        // return yet.
        const bool enters = queued != 0 || io_uring_cq_ready(&ring_) == 0;
        r = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
        if (enters) count_enter(queued);
    }
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
        throw std::system_error(-r, std::system_category(), "coil: io_uring_enter");
    }
}

void uring_backend::poll(std::optional<std::chrono::nanoseconds> timeout) {
    arm_wake_read();
    enter(timeout);
    reap();
    flush_pending_cancels();
}

void uring_backend::reap() noexcept {
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        on_completion(cqe->user_data, cqe->res, cqe->flags);
    }
    io_uring_cq_advance(&ring_, seen);
    if (seen == 0) return;
    stats_.completions += seen;
    ++stats_.reaps;
}

void uring_backend::on_multishot_completion(io_op& op, int res, unsigned flags) noexcept {
    const bool more = (flags & IORING_CQE_F_MORE) != 0;
    if (!more) {
        op.in_flight = false;
        --in_flight_;
        // Kernels before 5.19 reject the multishot flag: say so once, and the owners fall back.
        // Only before any multishot has worked: later EINVALs are about one socket (e.g. a
        // listener shut down), not about the kernel.
        if (res == -EINVAL && op.code == op_code::accept_multishot && !multishot_accept_confirmed_) {
            multishot_accept_ = false;
        }
        // The same for multishot recv (buffer rings came in 5.19, multishot recv in 6.0).
        if (res == -EINVAL && op.code == op_code::recv_multishot && !multishot_recv_confirmed_) {
            multishot_recv_ = false;
        }
    }
    if (op.code == op_code::recv_multishot) {
        if (more || res >= 0) multishot_recv_confirmed_ = true;
        op.buffer = (flags & IORING_CQE_F_BUFFER) ? static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT)
                                                  : buffer_pool::no_buffer;
        if (op.abandoned) {
            // Received for nobody: the buffer goes straight back to the ring.
            if (op.buffer != buffer_pool::no_buffer && buffers_) buffers_->recycle(op.buffer);
            return;
        }
    } else {
        if (more || res >= 0) multishot_accept_confirmed_ = true;
        if (op.abandoned) {
            if (res >= 0 && ops::traits_of(op.code).yields_fd) ::close(res);  // nobody will take it
            return;
        }
    }
    if (!more) forget_pending_cancel(op);
    op.on_multishot(op, res, more);
}

void uring_backend::on_completion(std::uint64_t user_data, int res, unsigned flags) noexcept {
    if (user_data == ignored_tag || user_data == LIBURING_UDATA_TIMEOUT) return;
    if (user_data == wake_tag) {
        wake_armed_ = false;
        return;
    }
    if (user_data == msg_wake_tag) {
        // Its work is in the loop's post queue, drained before the loop waits again; the next
        // wake may send a message again.
        msg_wake_in_flight_.exchange(false, std::memory_order_acq_rel);
        return;
    }
    io_op& op = *reinterpret_cast<io_op*>(static_cast<std::uintptr_t>(user_data));
    if (op.on_multishot != nullptr) {
        on_multishot_completion(op, res, flags);
        return;
    }

    if (op.code == op_code::recv_pooled && !pooled_readiness_done(op, res)) return;

    if (op.backend_stage == stage_waiting_readiness) {
        // The readiness wait for a read/write that met a non-blocking fd has ended. Its result
        // is a poll mask, never the op's result: issue the op, or end it as cancelled.
        op.backend_stage = 0;
        if (res >= 0 && op.cancel_requested) {
            res = -ECANCELED;
        } else if (res >= 0) {
            if (io_uring_sqe* sqe = next_sqe()) {
                prep(*sqe, op);
                return;
            }
            res = -EBUSY;
        }
    } else if (res == -EAGAIN && op.cancel_requested) {
        res = -ECANCELED;  // it would have waited; the owner asked it not to
    } else if (res == -EAGAIN && ops::traits_of(op.code).reissues_after_poll) {
        // read/write on an O_NONBLOCK fd completes with -EAGAIN instead of waiting: wait for
        // readiness, then issue it again.
        if (io_uring_sqe* sqe = next_sqe()) {
            op.backend_stage = stage_waiting_readiness;
            prep_readiness_wait(*sqe, op);
            return;
        }
        res = -EBUSY;
    }

    op.res = res;
    op.in_flight = false;
    --in_flight_;
    forget_pending_cancel(op);
    if (op.abandoned) {
        // Nobody will look at the result; release what the kernel produced for the dead owner.
        if (res >= 0 && ops::traits_of(op.code).yields_fd) ::close(res);
        // (A recv_pooled never holds a buffer here: abandon() requests the cancel first, and
        // pooled_readiness_done then skips the receive.)
        return;
    }
    ready_.push_back(op);
}

// A pooled receive without a buffer ring: its readiness wait (POLL_ADD) ended. On readiness, the
// receive runs now, non-blocking, into a pool buffer taken only now (ops/recv_pooled.hpp). Returns false
// while the op goes on (spurious readiness: wait again); true with `res` its result.
bool uring_backend::pooled_readiness_done(io_op& op, int& res) noexcept {
    if (res < 0) return true;  // the poll failed or was cancelled: that is the result
    if (op.cancel_requested) {
        res = -ECANCELED;
        return true;
    }
    res = run_syscall(op);
    if (res != -EAGAIN) return true;
    io_uring_sqe* sqe = next_sqe();
    if (sqe == nullptr) {
        res = -EBUSY;
        return true;
    }
    prep(*sqe, op);
    return false;
}

void uring_backend::use_eventfd_wake() noexcept {
    if (!msg_ring_wake_) return;
    msg_ring_wake_ = false;
    wake_note_ = "wakes by eventfd (configured)";
}

std::string_view uring_backend::wake_method() const noexcept {
    return msg_ring_wake_ ? "IORING_OP_MSG_RING" : "eventfd";
}

void uring_backend::wake() noexcept {
    // The message needs nothing re-armed and no fd; the eventfd (whose read stays armed) takes
    // any wake the message could not carry, so no wake is lost either way. At most one message
    // is on its way at a time (msg_wake_in_flight_): one not reaped yet wakes the loop as well
    // as a second would, whenever the loop next waits.
    if (msg_ring_wake_) {
        if (msg_wake_in_flight_.exchange(true, std::memory_order_acq_rel)) return;
        if (msg_ring_wake(ring_.ring_fd, msg_wake_tag)) return;
        msg_wake_in_flight_.exchange(false, std::memory_order_acq_rel);  // none went: eventfd
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(wake_fd_, &one, sizeof one);
}

}  // namespace coil::detail
