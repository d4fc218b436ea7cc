// baseline_threaded.cpp - the threaded server: a new (detached) thread per connection.
//
// Architecture: the main thread accepts; each connection gets a detached thread that serves it
// with blocking calls to its end and exits.
//
// Known limits (background reading 001, 003): cheaper than a process per connection but still a
// thread creation and teardown per connection, a stack and a kernel task per connection, and a
// scheduler that must switch among all of them; the classic table shows ~1,600-1,800 requests/s,
// falling past a few thousand connections ("limited to thousands, not tens of thousands"). When
// pthread_create fails (threads-max, RLIMIT_NPROC, memory) the connection is closed at once: that
// is how this design degrades.
//
// Design: 256 KiB stacks instead of glibc's 8 MiB default (a connection needs a few KiB; its
// buffer is on the heap), so address space is not what runs out first. The main thread keeps the
// set of open connection fds (registered before the thread starts, removed and closed by the
// thread under the same mutex), which is what lets it stop detached threads.
//
// Stopping: the SIGINT/SIGTERM handler (on whichever thread it runs) shuts the listener down, so
// the main thread's accept() fails at once; main then shuts down every open connection, which
// ends each thread's recv(), and waits (at most 10 s) until every thread has closed its fd.
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <unordered_set>

#include "protocol.hpp"
#include "setup.hpp"

namespace {

// Outlives main's return (detached threads may still use it): never destroyed.
struct registry {
    std::mutex mutex;
    std::condition_variable empty;
    std::unordered_set<int> fds;
    baseline::protocol proto = baseline::protocol::echo;
};
registry& reg = *new registry;

void* serve_thread(void* arg) {
    const int fd = static_cast<int>(reinterpret_cast<intptr_t>(arg));
    baseline::serve_blocking(fd, reg.proto);
    std::lock_guard lock(reg.mutex);
    reg.fds.erase(fd);
    close(fd);  // under the mutex: main never shuts down a number that has been reused
    if (reg.fds.empty()) reg.empty.notify_all();
    return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace baseline;
    const options opt = parse_options(argc, argv, "threaded server: a new thread per connection", 0);
    reg.proto = opt.proto;
    raise_nofile_limit();
    install_stop_handlers();
    const int lfd = open_listener(opt, false);
    watch_listener(lfd);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);

    while (!stop_requested()) {
        int fd = accept_connection(lfd, 0);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                usleep(100 * 1000);  // out of fds or memory: back off instead of spinning
            continue;
        }
        {
            std::lock_guard lock(reg.mutex);
            reg.fds.insert(fd);
        }
        pthread_t t;
        if (pthread_create(&t, &attr, serve_thread, reinterpret_cast<void*>(intptr_t{fd})) != 0) {
            std::lock_guard lock(reg.mutex);  // out of threads: drop this client
            reg.fds.erase(fd);
            close(fd);
        }
    }
    watch_listener(-1);
    close(lfd);
    pthread_attr_destroy(&attr);

    std::unique_lock lock(reg.mutex);
    for (int fd : reg.fds) shutdown(fd, SHUT_RDWR);
    if (!reg.empty.wait_for(lock, std::chrono::seconds(10), [] { return reg.fds.empty(); })) {
        fprintf(stderr, "%zu connection threads did not stop within 10 s\n", reg.fds.size());
        _exit(1);
    }
    return 0;
}
