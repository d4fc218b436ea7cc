#pragma once
// coil::signal_set: wait for POSIX signals (SIGINT, SIGTERM, ...) with co_await.
//
//     coil::signal_set stop({SIGINT, SIGTERM});
//     int signo = (co_await stop.wait()).value();
//
// The constructor blocks the signals in the calling thread (threads created afterwards inherit
// that) and reads them from a signalfd through the event loop, on either backend. The destructor
// unblocks only the signals this set blocked (others' blocks and later mask changes stay).
// Result: wait() yields the signal number, or operation_canceled if the task was cancelled.
// Threading: loop thread only; construct before starting other threads.

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
    sigset_t added_{};  // the signals this set blocked (they were not blocked before)
    io_handle fd_;
};

}  // namespace coil
