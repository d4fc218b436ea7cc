#include "coil/runtime/backend/epoll_backend.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <system_error>

#include "coil/runtime/backend/ops/dispatch.hpp"
#include "coil/runtime/backend/sys_op.hpp"

namespace coil::detail {
namespace {

constexpr std::size_t max_events = 512;

// The op types (runtime/backend/ops/) say which readiness each op waits for and whether its
// result tells whether the socket is drained.
bool remembers_readiness(op_code code) noexcept { return ops::traits_of(code).remembers_readiness; }

bool waits_for_write(op_code code) noexcept {
    return ops::traits_of(code).waits_for == ops::readiness::out;
}

}  // namespace

std::unique_ptr<backend> make_epoll_backend(ready_queue& ready) {
    return std::make_unique<epoll_backend>(ready);
}

epoll_backend::epoll_backend(ready_queue& ready) : ready_(ready), events_(max_events) {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) throw std::system_error(errno, std::system_category(), "coil: epoll_create1");
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) {
        const int err = errno;
        ::close(epoll_fd_);
        throw std::system_error(err, std::system_category(), "coil: eventfd");
    }
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered: drained on every wake
    ev.data.fd = wake_fd_;
    ++stats_.ctl_syscalls;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) < 0) {
        const int err = errno;
        ::close(wake_fd_);
        ::close(epoll_fd_);
        throw std::system_error(err, std::system_category(), "coil: epoll_ctl(eventfd)");
    }
}

epoll_backend::~epoll_backend() {
    ::close(wake_fd_);
    ::close(epoll_fd_);
}

std::string epoll_backend::description() const {
    return "edge-triggered, syscall first, one registration per fd";
}

void epoll_backend::wait_list::push_back(io_op& op) noexcept {
    op.wait_prev = tail;
    op.wait_next = nullptr;
    if (tail) tail->wait_next = &op; else head = &op;
    tail = &op;
}

void epoll_backend::wait_list::remove(io_op& op) noexcept {
    if (op.wait_prev) op.wait_prev->wait_next = op.wait_next; else head = op.wait_next;
    if (op.wait_next) op.wait_next->wait_prev = op.wait_prev; else tail = op.wait_prev;
    op.wait_prev = op.wait_next = nullptr;
}

epoll_backend::fd_entry& epoll_backend::entry(int fd) {
    const auto index = static_cast<std::size_t>(fd);
    if (index >= fds_.size()) fds_.resize(std::max(index + 1, fds_.size() * 2));
    return fds_[index];
}

epoll_backend::wait_list& epoll_backend::list_for(io_op& op) {
    fd_entry& e = entry(op.fd);
    return waits_for_write(op.code) ? e.writers : e.readers;
}

bool epoll_backend::ensure_registered(int fd, fd_entry& e) noexcept {
    // Owned fds: once. A raw fd may have been closed with ::close and its number reused by a new
    // file since we registered it (the kernel then dropped the old registration by itself), so
    // it is added on every wait; EEXIST says this very file is still registered.
    if (e.registered && e.owned) return true;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    ++stats_.ctl_syscalls;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) < 0 && errno != EEXIST) return false;
    e.registered = true;
    return true;
}

void epoll_backend::register_fd(int fd) noexcept {
    if (fd < 0) return;
    fd_entry* e = nullptr;
    try {
        e = &entry(fd);
    } catch (...) {
        return;  // then it is treated as a raw fd: correct, one epoll_ctl per wait
    }
    // Whatever was remembered under this number may be about an earlier file that was closed
    // behind our back: start afresh (a registration of this same file is found again: EEXIST).
    e->registered = false;
    e->drained_in = e->drained_out = e->hung_up = false;
    e->stream = -1;
    e->owned = true;
}

bool epoll_backend::known_not_ready(const fd_entry& e, const io_op& op) noexcept {
    // After a hang-up no further edge may come: a FIN that arrived in the same edge as the last
    // data must still be read as end of stream, so never skip the syscall then. A raw fd's
    // memory may be about an earlier file with the same number: never trusted.
    if (!e.owned || !remembers_readiness(op.code) || e.hung_up) return false;
    return waits_for_write(op.code) ? e.drained_out : e.drained_in;
}

bool epoll_backend::is_stream_socket(fd_entry& e, int fd) noexcept {
    if (e.stream < 0) {
        int type = 0;
        socklen_t len = sizeof type;
        e.stream = ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
    }
    return e.stream == 1;
}

void epoll_backend::note_result(fd_entry& e, const io_op& op, int res) noexcept {
    if (!e.owned || !remembers_readiness(op.code)) return;
    // EAGAIN, or a short transfer on a stream socket: the queue is empty (or full) right now, and
    // the next change comes with an edge. End of stream (0) and errors stay ready: they repeat.
    // A short datagram (recv/recvmsg on UDP: each call takes one datagram, however many are
    // queued behind it), or a MSG_PEEK (it consumes nothing), says nothing about what is queued.
    const bool short_transfer = ops::traits_of(op.code).transfers_data && res > 0 &&
                                static_cast<std::uint32_t>(res) < op.len &&
                                !(op.flags & MSG_PEEK) && is_stream_socket(e, op.fd);
    const bool drained = res == -EAGAIN || short_transfer;
    if (waits_for_write(op.code)) e.drained_out = drained; else e.drained_in = drained;
}

bool epoll_backend::start(io_op& op) noexcept {
    if (ops::traits_of(op.code).closes_fd) {
        forget_fd(op.fd);
        op.res = try_syscall(op);  // never retried
        return true;
    }
    if (op.fd < 0) {
        op.res = run_syscall(op);  // nop, or the kernel's EBADF
        return true;
    }
    fd_entry* e = nullptr;
    try {
        e = &entry(op.fd);
    } catch (...) {
        op.res = -ENOMEM;
        return true;
    }
    if (!known_not_ready(*e, op)) {
        const int res = try_syscall(op);
        note_result(*e, op, res);
        if (res != -EAGAIN) {
            op.res = res;
            return true;
        }
    }
    if (!ensure_registered(op.fd, *e)) {
        op.res = -errno;
        return true;
    }
    (waits_for_write(op.code) ? e->writers : e->readers).push_back(op);
    op.in_flight = true;
    ++in_flight_;
    return false;
}

void epoll_backend::complete(io_op& op, int res) noexcept {
    op.res = res;
    op.in_flight = false;
    --in_flight_;
    if (!op.abandoned) ready_.push_back(op);
}

void epoll_backend::unlink_waiting(io_op& op) noexcept { list_for(op).remove(op); }

void epoll_backend::cancel(io_op& op) noexcept {
    op.cancel_requested = true;
    if (!op.in_flight) return;
    unlink_waiting(op);
    complete(op, -ECANCELED);
}

void epoll_backend::abandon(io_op& op) noexcept {
    op.abandoned = true;
    if (!op.in_flight) return;
    // Nothing is in the kernel: an epoll wait is only a list entry here.
    unlink_waiting(op);
    op.in_flight = false;
    --in_flight_;
}

void epoll_backend::retry(fd_entry& e, wait_list& list) noexcept {
    while (io_op* op = list.head) {
        const int res = try_syscall(*op);
        note_result(e, *op, res);
        if (res == -EAGAIN) return;  // the ops behind it would see the same
        list.remove(*op);
        complete(*op, res);
    }
}

void epoll_backend::fail_waiting(int fd, int res) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
    fd_entry& e = fds_[static_cast<std::size_t>(fd)];
    for (wait_list* list : {&e.readers, &e.writers}) {
        while (io_op* op = list->head) {
            list->remove(*op);
            op->cancel_requested = true;
            complete(*op, res);
        }
    }
}

void epoll_backend::cancel_fd(int fd) noexcept { fail_waiting(fd, -ECANCELED); }

void epoll_backend::forget_fd(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
    // An op still waiting on an fd that is being closed would wait forever: end it as cancelled
    // (the result an op pending on a handle that is closed gets on both backends).
    fail_waiting(fd, -ECANCELED);
    fd_entry& e = fds_[static_cast<std::size_t>(fd)];
    if (e.registered) {
        // Explicit DEL: a dup() of the fd would otherwise keep the registration alive.
        ++stats_.ctl_syscalls;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    }
    e = fd_entry{};  // the number will be reused by an unrelated file
}

int epoll_backend::wait_events(std::optional<std::chrono::nanoseconds> timeout) {
    const int capacity = static_cast<int>(events_.size());
    // Any nanosecond count is valid here: negative waits nothing, and the kernel clamps a
    // timespec beyond its range (up to ~292 years) instead of failing.
    const std::int64_t ns = timeout ? std::max<std::int64_t>(timeout->count(), 0) : 0;
    if (have_pwait2_) {
        timespec ts{};
        ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
        ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
        ++stats_.kernel_enters;
        const int n = ::epoll_pwait2(epoll_fd_, events_.data(), capacity, timeout ? &ts : nullptr,
                                     nullptr);
        if (n >= 0 || errno != ENOSYS) return n;
        have_pwait2_ = false;  // kernel older than 5.11
    }
    int ms = -1;
    if (timeout) {
        // Round up: waking early would spin until the timer is due. (Not ns + 999'999, which
        // overflows near nanoseconds::max().)
        const std::int64_t rounded = ns / 1'000'000 + (ns % 1'000'000 != 0 ? 1 : 0);
        ms = static_cast<int>(std::min<std::int64_t>(rounded, INT_MAX));
    }
    ++stats_.kernel_enters;
    return ::epoll_wait(epoll_fd_, events_.data(), capacity, ms);
}

void epoll_backend::poll(std::optional<std::chrono::nanoseconds> timeout) {
    // Other tasks are ready and no op waits for readiness: no event could matter, skip the syscall.
    // (Cross-thread posts are checked by the loop itself every turn.)
    if (timeout && timeout->count() <= 0 && in_flight_ == 0) return;
    const int n = wait_events(timeout);
    if (n < 0) {
        if (errno == EINTR) return;
        throw std::system_error(errno, std::system_category(), "coil: epoll_wait");
    }
    if (n > 0) {
        stats_.completions += static_cast<std::uint64_t>(n);
        ++stats_.reaps;
    }
    for (int i = 0; i < n; ++i) {
        const epoll_event& ev = events_[static_cast<std::size_t>(i)];
        const int fd = ev.data.fd;
        if (fd == wake_fd_) {
            std::uint64_t count = 0;
            [[maybe_unused]] auto r = ::read(wake_fd_, &count, sizeof count);
            continue;
        }
        if (static_cast<std::size_t>(fd) >= fds_.size()) continue;
        fd_entry& e = fds_[static_cast<std::size_t>(fd)];
        if (ev.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) e.hung_up = true;
        if (ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
            e.drained_in = false;
            retry(e, e.readers);
        }
        if (ev.events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
            e.drained_out = false;
            retry(e, e.writers);
        }
    }
}

void epoll_backend::wake() noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(wake_fd_, &one, sizeof one);
}

}  // namespace coil::detail
