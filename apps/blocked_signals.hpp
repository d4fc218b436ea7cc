#pragma once
// The apps block the signals they wait for (SIGINT, SIGTERM, echo_server's SIGUSR1) at the top of
// main(), before any thread or coil::signal_set exists, and never unblock them. Why: a set
// unblocks a signal when the last set for it goes away, unless it was blocked before the first
// one (signal_set.hpp). The apps' sets go away while the process is still stopping (joining the
// loops, printing the per-loop counts, exit and the sanitizers' leak check), so a SIGTERM or
// SIGUSR1 sent then got its default action: the server died (exit 138 or 143) after a clean stop.
// Blocked here, such a late signal stays pending and dies with the process; one raised before the
// sets exist is read by them once they do.
// Threading: call it while the process has one thread (threads created later inherit the mask).

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

inline void block_signals_for_the_process(std::initializer_list<int> signals) {
    sigset_t set;
    sigemptyset(&set);
    for (int s : signals) sigaddset(&set, s);
    if (const int err = pthread_sigmask(SIG_BLOCK, &set, nullptr); err != 0) {
        std::fprintf(stderr, "cannot block the stop signals: %s\n", std::strerror(err));
        std::exit(1);
    }
}
