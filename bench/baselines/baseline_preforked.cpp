// baseline_preforked.cpp - the preforked server: N worker processes created at start.
//
// Architecture: the parent opens the listener and fork()s --workers processes; each worker loops
// on a blocking accept() on the shared listening socket and serves one connection at a time to
// its end. The parent only supervises: it replaces a worker that dies and stops them all.
//
// Known limits (background reading 001, 002): no per-connection fork, so it runs far above the
// forking server (~2,100-2,400 requests/s in the classic table at concurrency up to 2,500), but
// at most N connections are served at once: with keep-alive, connection N+1 waits in the listen
// backlog until one of the N closes, and times out if none does (Apache's prefork MPM and its
// MaxRequestWorkers have the same ceiling). Memory grows with N processes. No thundering herd: on
// Linux, processes blocked in accept() on one socket are woken one at a time (exclusive wait).
//
// Design: blocking accept() in every worker without an accept lock (the kernel serialises, as
// above). The parent waits in sigsuspend() with SIGCHLD/SIGINT/SIGTERM unblocked only there, reaps
// in its main loop, and replaces dead workers at most every 100 ms (no fork storm if a worker
// keeps dying).
//
// Stopping: the parent shuts the shared listener down, which makes every worker's accept() fail
// at once, and sends each worker SIGTERM, whose handler shuts down the connection it is serving;
// workers exit, the parent reaps them all (SIGKILL after 5 s) and returns 0.
#include <cerrno>
#include <ctime>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "protocol.hpp"
#include "setup.hpp"

namespace {

void on_child(int) {}  // only interrupts sigsuspend(); the main loop reaps

[[noreturn]] void worker(int lfd, baseline::protocol proto) {
    using namespace baseline;
    signal(SIGCHLD, SIG_DFL);
    unblock_stop_signals(true);
    while (!stop_requested()) {
        int fd = accept_connection(lfd, 0);
        if (fd < 0) {
            if (errno == EINVAL) break;  // the parent shut the listener down: stop
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                usleep(100 * 1000);
            continue;
        }
        watch_connection(fd);
        serve_blocking(fd, proto);
        watch_connection(-1);
        close(fd);
    }
    _exit(0);
}

long long now_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Reaps exited workers: their slots become 0.
void reap(std::vector<pid_t>& pids) {
    pid_t pid;
    while ((pid = waitpid(-1, nullptr, WNOHANG)) > 0)
        for (pid_t& p : pids)
            if (p == pid) p = 0;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace baseline;
    const options opt = parse_options(
        argc, argv, "preforked server: N worker processes accepting on one socket", 32);
    raise_nofile_limit();
    install_stop_handlers();
    struct sigaction sa{};
    sa.sa_handler = on_child;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, nullptr);

    sigset_t wait_mask;  // the mask inside sigsuspend: the stop signals and SIGCHLD unblocked
    pthread_sigmask(SIG_SETMASK, nullptr, &wait_mask);
    block_stop_signals(true);
    const int lfd = open_listener(opt, false);

    std::vector<pid_t> pids(static_cast<size_t>(opt.workers), 0);
    long long last_fill = -1000;
    while (!stop_requested()) {
        reap(pids);
        if (now_ms() - last_fill >= 100) {
            last_fill = now_ms();
            for (pid_t& p : pids) {
                if (p != 0) continue;
                p = fork();
                if (p == 0) worker(lfd, opt.proto);
                if (p < 0) p = 0;  // retried on the next round
            }
        }
        bool missing = false;
        for (pid_t p : pids) missing = missing || p == 0;
        if (missing) {
            timespec wait{0, 100 * 1000 * 1000};
            (void)pselect(0, nullptr, nullptr, nullptr, &wait, &wait_mask);
        } else {
            sigsuspend(&wait_mask);
        }
    }

    shutdown(lfd, SHUT_RDWR);
    for (pid_t p : pids)
        if (p > 0) kill(p, SIGTERM);
    const sigset_t chld = [] { sigset_t s; sigemptyset(&s); sigaddset(&s, SIGCHLD); return s; }();
    timespec tick{0, 50 * 1000 * 1000};
    auto live = [&] { int n = 0; for (pid_t p : pids) n += p > 0; return n; };
    for (int i = 0; i < 100 && live() > 0; ++i) {  // 100 x 50 ms
        (void)sigtimedwait(&chld, nullptr, &tick);
        reap(pids);
    }
    for (pid_t p : pids) {
        if (p <= 0) continue;
        kill(p, SIGKILL);
        waitpid(p, nullptr, 0);
    }
    close(lfd);
    return 0;
}
