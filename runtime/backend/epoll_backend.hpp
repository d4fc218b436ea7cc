#pragma once
// The epoll backend: readiness-based I/O that tries the syscall first.
//
// Per op: the non-blocking syscall runs at once (on a busy connection it usually succeeds, and
// then the op completes without suspending). Only on EAGAIN does the op wait: the fd is registered
// once, edge-triggered, for in+out+rdhup, and the op joins that fd's reader or writer list; an
// edge retries the list in order. No epoll_ctl per operation.
// Readiness memory (sockets: recv, send, accept): a short recv/send or EAGAIN means the socket is
// drained (or full) for now, so the next op on it waits for the next edge without first paying a
// syscall that would only say EAGAIN. An edge that arrives while nobody waits is remembered.
// Per-fd memory (the registration, readiness, the socket type) is kept only for fds coil owns
// (register_fd: io_handle, so tcp_stream, tcp_listener, signal_set), which are closed through coil
// (forget_fd), so a reused fd number can never inherit it. A raw fd may be closed with ::close
// and its number reused behind our back: for those every wait re-adds the fd (EEXIST means the
// same file is still registered) and every op tries its syscall first.
// Threading: loop thread only, except wake().

#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "coil/runtime/backend/backend.hpp"
#include "coil/runtime/backend/sys_op.hpp"

namespace coil::detail {

class epoll_backend final : public backend {
public:
    explicit epoll_backend(ready_queue& ready);  // throws std::system_error
    ~epoll_backend() override;

    backend_kind kind() const noexcept override { return backend_kind::epoll; }
    bool start(io_op& op) noexcept override;
    void cancel(io_op& op) noexcept override;
    void abandon(io_op& op) noexcept override;
    void poll(std::optional<std::chrono::nanoseconds> timeout) override;
    void wake() noexcept override;
    void use_eventfd_wake() noexcept override {}
    std::string_view wake_method() const noexcept override { return "eventfd"; }
    void register_fd(int fd) noexcept override;  // coil owns it: keep per-fd memory
    void cancel_fd(int fd) noexcept override;
    void forget_fd(int fd) noexcept override;
    bool supports_multishot_accept() const noexcept override { return false; }
    // Pooled receives read into a pool buffer only once the socket is readable (recv_pooled).
    bool feed_buffer_pool(buffer_pool& /*pool*/) noexcept override { return false; }
    bool supports_multishot_recv() const noexcept override { return false; }
    std::size_t in_flight() const noexcept override { return in_flight_; }
    const loop_stats& stats() const noexcept override { return stats_; }
    std::string description() const override;

private:
    struct wait_list {
        io_op* head = nullptr;
        io_op* tail = nullptr;
        void push_back(io_op& op) noexcept;
        void remove(io_op& op) noexcept;
    };
    struct fd_entry {
        wait_list readers;
        wait_list writers;
        bool owned = false;        // register_fd'd: closed through coil, memory below is valid
        bool registered = false;   // in the epoll set (trusted only while owned)
        bool drained_in = false;   // no data to read until the next in-edge
        bool drained_out = false;  // no room to write until the next out-edge
        bool hung_up = false;      // saw RDHUP/HUP/ERR: every later op must try its syscall
        std::int8_t stream = -1;   // SOCK_STREAM? (-1: not asked yet); only streams drain in order
    };

    fd_entry& entry(int fd);
    wait_list& list_for(io_op& op);
    bool ensure_registered(int fd, fd_entry& e) noexcept;
    void retry(fd_entry& e, wait_list& list) noexcept;
    static bool known_not_ready(const fd_entry& e, const io_op& op) noexcept;
    static void note_result(fd_entry& e, const io_op& op, int res) noexcept;
    static bool is_stream_socket(fd_entry& e, int fd) noexcept;
    void complete(io_op& op, int res) noexcept;
    void unlink_waiting(io_op& op) noexcept;
    void fail_waiting(int fd, int res) noexcept;
    int wait_events(std::optional<std::chrono::nanoseconds> timeout);
    int try_syscall(io_op& op) noexcept {
        ++stats_.op_syscalls;
        return run_syscall(op);
    }

    ready_queue& ready_;
    int epoll_fd_ = -1;
    int wake_fd_ = -1;
    bool have_pwait2_ = true;
    std::size_t in_flight_ = 0;
    loop_stats stats_;
    std::vector<fd_entry> fds_;
    std::vector<epoll_event> events_;
};

}  // namespace coil::detail
