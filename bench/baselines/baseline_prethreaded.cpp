// baseline_prethreaded.cpp - the prethreaded server: a fixed pool of threads created at start.
//
// Architecture: --workers threads, each looping: take the accept mutex, accept() one connection,
// release the mutex, serve the connection to its end with blocking calls.
//
// Accept under a mutex, not an acceptor thread feeding a queue, because the thread that accepts
// is the one that serves: no hand-off (a queue costs a wake-up and a context switch per
// connection, and a queue that can grow while every worker is busy), and a connection is only
// accepted when a thread is free to serve it, so overload stays in the kernel's listen backlog
// where clients see it. It is the design of the background reading (001: "acquire a lock so that
// only one thread is blocked on accept() and all other threads wait on the mutex"). On Linux the
// kernel would also wake a single accept() waiter without the lock, so the mutex is not needed
// against a thundering herd there; it keeps the design portable and is held only around
// accept(), never while serving.
//
// Known limits (background reading 001, 002): no per-connection thread creation, so it is the
// strongest of the blocking designs in the classic table (~2,200-2,600 requests/s up to 11,000
// connections, 970 at 12,000), but at most N connections are served at once: with keep-alive, connection N+1
// waits in the backlog until one of the N closes, and times out if none does (Apache's worker
// MPM has the same ceiling per process). Memory grows with N stacks.
//
// Stopping: the main thread only waits for SIGINT/SIGTERM (the workers block them). Its handler
// shuts the listener down, which makes the accept() in progress, and every later one, fail at
// once; main then shuts down every connection being served (a worker registers its connection
// under a mutex and checks for a stop there, so none is missed) and joins the pool.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sys/socket.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <unordered_set>
#include <vector>

#include "protocol.hpp"
#include "setup.hpp"

namespace {

struct pool_state {
    int lfd = -1;
    baseline::protocol proto = baseline::protocol::echo;
    std::mutex accept_mutex;
    std::mutex open_mutex;
    std::unordered_set<int> open;  // connections being served, for the stop
};

void worker(pool_state& s) {
    using namespace baseline;
    while (!stop_requested()) {
        int fd;
        {
            std::lock_guard lock(s.accept_mutex);
            if (stop_requested()) break;
            fd = accept_connection(s.lfd, 0);
        }
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                usleep(100 * 1000);  // out of fds or memory: back off instead of spinning
            continue;                // EINVAL after the stop's shutdown ends the loop
        }
        {
            std::lock_guard lock(s.open_mutex);
            if (stop_requested()) {  // main's sweep of `open` may be over already
                close(fd);
                break;
            }
            s.open.insert(fd);
        }
        serve_blocking(fd, s.proto);
        std::lock_guard lock(s.open_mutex);
        s.open.erase(fd);
        close(fd);  // under the mutex: the sweep never shuts down a reused number
    }
}

}  // namespace

int main(int argc, char** argv) {
    using namespace baseline;
    const options opt = parse_options(
        argc, argv, "prethreaded server: a fixed pool of threads, accept under a mutex", 64);
    raise_nofile_limit();
    install_stop_handlers();
    sigset_t wait_mask;  // main's mask while it waits: the stop signals unblocked
    pthread_sigmask(SIG_SETMASK, nullptr, &wait_mask);
    block_stop_signals(false);  // inherited by the workers: only main takes the signals

    pool_state s;
    s.proto = opt.proto;
    s.lfd = open_listener(opt, false);
    watch_listener(s.lfd);
    std::vector<std::thread> pool;
    try {
        for (int i = 0; i < opt.workers; ++i) pool.emplace_back(worker, std::ref(s));
    } catch (const std::system_error& e) {
        fprintf(stderr, "cannot start %d threads: %s\n", opt.workers, e.what());
        request_stop();
        for (auto& t : pool) t.join();
        return 1;
    }

    while (!stop_requested()) sigsuspend(&wait_mask);
    {
        std::lock_guard lock(s.open_mutex);
        for (int fd : s.open) shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : pool) t.join();
    watch_listener(-1);
    close(s.lfd);
    return 0;
}
