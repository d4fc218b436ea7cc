#include "coil/runtime/signal_set.hpp"

#include <sys/signalfd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>
#include <system_error>

#include "coil/runtime/io.hpp"

namespace coil {
namespace {

// Which signals live sets want, for the whole process: a set must not unblock a signal that
// another set still reads (it would then be delivered with its default action, often death).
struct signal_registry {
    std::mutex mutex;
    std::array<unsigned, NSIG> users{};          // live sets per signal
    std::array<bool, NSIG> unblock_at_end{};     // the first set blocked it: unblock after the last
};

signal_registry registry;

// Discards the pending instances of `signals` (thread- and process-directed), so that unblocking
// them cannot deliver one with its default action. Real-time signals queue: loop until none.
void discard_pending(const sigset_t& signals) noexcept {
    const timespec no_wait{};
    for (;;) {
        const int got = ::sigtimedwait(&signals, nullptr, &no_wait);
        if (got > 0) continue;
        if (errno == EINTR) continue;
        return;  // EAGAIN: nothing pending
    }
}

// Drops this set's claim on `signals`; the last claim on a signal discards it and unblocks it.
void release(const sigset_t& signals) noexcept {
    std::lock_guard lock(registry.mutex);
    sigset_t unblock;
    sigemptyset(&unblock);
    bool any = false;
    for (int s = 1; s < NSIG; ++s) {
        if (sigismember(&signals, s) != 1) continue;
        if (--registry.users[s] == 0 && registry.unblock_at_end[s]) {
            registry.unblock_at_end[s] = false;
            sigaddset(&unblock, s);
            any = true;
        }
    }
    if (!any) return;
    discard_pending(unblock);
    pthread_sigmask(SIG_UNBLOCK, &unblock, nullptr);
}

}  // namespace

signal_set::signal_set(std::initializer_list<int> signals) {
    sigemptyset(&signals_);
    for (int s : signals) {
        if (s <= 0 || s >= NSIG || sigaddset(&signals_, s) != 0) {
            throw std::system_error(EINVAL, std::system_category(), "coil::signal_set: signal number");
        }
    }
    sigset_t previous;
    {
        std::lock_guard lock(registry.mutex);
        if (const int err = pthread_sigmask(SIG_BLOCK, &signals_, &previous); err != 0) {
            throw std::system_error(err, std::system_category(), "coil::signal_set: pthread_sigmask");
        }
        for (int s = 1; s < NSIG; ++s) {
            if (sigismember(&signals_, s) != 1) continue;
            if (registry.users[s]++ == 0) registry.unblock_at_end[s] = sigismember(&previous, s) != 1;
        }
    }
    const int fd = ::signalfd(-1, &signals_, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        undo_construction(previous);
        throw std::system_error(err, std::system_category(), "coil::signal_set: signalfd");
    }
    try {
        fd_ = io_handle(unique_fd(fd));  // throws without a loop on this thread
    } catch (...) {
        undo_construction(previous);
        throw;
    }
}

void signal_set::undo_construction(const sigset_t& previous) noexcept {
    release(signals_);
    // release() unblocks a signal only with its last claim; a set for it on another thread keeps
    // it blocked in the process registry, but THIS thread's mask must be as it was (the header's
    // promise): unblock here what was not blocked before.
    sigset_t restore;
    sigemptyset(&restore);
    for (int s = 1; s < NSIG; ++s) {
        if (sigismember(&signals_, s) == 1 && sigismember(&previous, s) != 1) sigaddset(&restore, s);
    }
    pthread_sigmask(SIG_UNBLOCK, &restore, nullptr);
}

signal_set::~signal_set() {
    fd_.reset();
    release(signals_);
}

task<result<int>> signal_set::wait() {
    signalfd_siginfo info{};
    auto buf = std::as_writable_bytes(std::span(&info, 1));
    auto n = co_await fd_.track(coil::read(fd_.fd(), buf));
    if (!n) co_return n.error();
    co_return static_cast<int>(info.ssi_signo);
}

}  // namespace coil
