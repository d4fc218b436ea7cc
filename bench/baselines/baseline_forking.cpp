// baseline_forking.cpp - the forking server: a new process per connection.
//
// Architecture: the parent accepts; for each connection it fork()s a child that serves that one
// connection with blocking calls and exits. The parent only accepts and reaps.
//
// Known limits (background reading 000, 001, 003): a fork (page tables, process creation and
// teardown) per connection dominates short connections: the classic table shows a few hundred
// requests/s, and "trouble handling more than 1,500 concurrent connections". Each connection holds
// a whole process, so memory and the process limit (RLIMIT_NPROC, pid_max) bound concurrency;
// when fork() fails the connection is closed at once, which is how this design degrades. In its
// favour: isolation (a crashing child takes only its client down).
//
// Design: the listener is non-blocking and the parent waits in ppoll() with SIGCHLD, SIGINT and
// SIGTERM unblocked only there, so a child's exit is reaped as soon as it is signalled (no
// zombies) and the pid set is touched only by the main loop, never by a signal handler. The
// accepted socket is blocking (accept4 does not inherit O_NONBLOCK). Children _exit() without
// running the parent's atexit work.
//
// Stopping: on SIGINT/SIGTERM the parent stops accepting, sends SIGTERM to every live child
// (whose handler shuts its connection down, so it exits at once), reaps them all, and after 5 s
// SIGKILLs any that are left; it returns only once no child is left.
#include <cerrno>
#include <ctime>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>
#include <unordered_set>

#include "protocol.hpp"
#include "setup.hpp"

namespace {

void on_child(int) {}  // only interrupts ppoll(); the main loop reaps

void reap(std::unordered_set<pid_t>& children) {
    pid_t pid;
    while ((pid = waitpid(-1, nullptr, WNOHANG)) > 0) children.erase(pid);
}

[[noreturn]] void child(int fd, baseline::protocol proto) {
    signal(SIGCHLD, SIG_DFL);
    baseline::watch_connection(fd);
    baseline::unblock_stop_signals(true);
    baseline::serve_blocking(fd, proto);
    close(fd);
    _exit(0);
}

void stop_children(std::unordered_set<pid_t>& children) {
    for (pid_t pid : children) kill(pid, SIGTERM);
    const sigset_t chld = [] { sigset_t s; sigemptyset(&s); sigaddset(&s, SIGCHLD); return s; }();
    timespec tick{0, 50 * 1000 * 1000};
    for (int i = 0; i < 100 && !children.empty(); ++i) {  // 100 x 50 ms
        (void)sigtimedwait(&chld, nullptr, &tick);
        reap(children);
    }
    for (pid_t pid : children) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
    }
    children.clear();
}

}  // namespace

int main(int argc, char** argv) {
    using namespace baseline;
    const options opt = parse_options(argc, argv, "forking server: a new process per connection", 0);
    raise_nofile_limit();
    install_stop_handlers();
    struct sigaction sa{};
    sa.sa_handler = on_child;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, nullptr);

    sigset_t wait_mask;  // the mask inside ppoll: the stop signals and SIGCHLD unblocked
    pthread_sigmask(SIG_SETMASK, nullptr, &wait_mask);
    block_stop_signals(true);
    const int lfd = open_listener(opt, true);

    std::unordered_set<pid_t> children;
    while (!stop_requested()) {
        pollfd p{lfd, POLLIN, 0};
        int n = ppoll(&p, 1, nullptr, &wait_mask);
        reap(children);
        if (n <= 0) continue;  // EINTR: a child exited or a stop
        while (!stop_requested()) {
            int fd = accept_connection(lfd, 0);
            if (fd < 0) {
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                    usleep(100 * 1000);  // out of fds or memory: back off instead of spinning
                    break;
                }
                if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                continue;  // ECONNABORTED, EINTR, ...
            }
            pid_t pid = fork();
            if (pid == 0) {
                close(lfd);
                child(fd, opt.proto);
            }
            close(fd);  // the child has its copy; on a failed fork (EAGAIN) the client is dropped
            if (pid > 0) children.insert(pid);
        }
    }
    close(lfd);
    stop_children(children);
    return 0;
}
