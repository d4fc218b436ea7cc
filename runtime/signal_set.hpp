#pragma once
// coil::signal_set: wait for POSIX signals (SIGINT, SIGTERM, ...) with co_await.
//
//     coil::signal_set stop({SIGINT, SIGTERM});
//     int signo = (co_await stop.wait()).value();
//
// The constructor blocks the signals in the calling thread (threads created afterwards inherit
// that) and reads them from a signalfd(2) through the event loop, on either backend.
// Several sets: sets for the same signal may coexist (on one loop or on several). The signals are
// counted per process: a signal stays blocked while any set for it lives, whichever set is
// destroyed first. When the last set for a signal goes away, instances of it still pending (raised
// but read by no set) are discarded, and only then is it unblocked, if the first set for it had
// blocked it (if it was already blocked then, it stays blocked). So destroying a set never lets
// a signal that sets were responsible for through to its default action (e.g. SIGUSR1's
// "terminate"). But one raised after that (e.g. a second SIGTERM while the program is still
// stopping) gets its default action: a program that must outlive its sets without dying from a
// late signal blocks it itself first (pthread_sigmask, before any thread), as apps/ do
// (apps/blocked_signals.hpp). Dispositions (sigaction) are never changed.
// Delivery: a signal raised while several sets for it wait is read by one of them, not by all.
// Result: wait() yields the signal number, or operation_canceled if the task was cancelled.
// Threading: a set belongs to its loop's thread. The signal mask is per thread (pthread_sigmask(3)):
// a signal sent to the process reaches the sets only if every thread blocks it, so create the first
// set before starting other threads (they inherit the mask), or block it in them. The mask is
// changed in the thread that creates a set and, when the last set for a signal goes away, in the
// thread that destroys it; another thread whose set blocked a signal keeps it blocked.
// Errors: the constructor throws std::system_error (invalid_argument for a signal number outside
// 1..NSIG-1 or reserved by the C library) if the mask or the signalfd cannot be set up, and
// std::logic_error without an event loop on the thread; the mask is then left as it was.

#include <signal.h>

#include <initializer_list>

#include "coil/runtime/io_handle.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

class signal_set {
public:
    /// Throws std::system_error if the mask or the signalfd cannot be set up.
    explicit signal_set(std::initializer_list<int> signals);
    ~signal_set();
    signal_set(const signal_set&) = delete;
    signal_set& operator=(const signal_set&) = delete;

    task<result<int>> wait();

private:
    void undo_construction(const sigset_t& previous) noexcept;

    sigset_t signals_{};  // the signals of this set (each counted once in the process registry)
    io_handle fd_;
};

}  // namespace coil
