// setup.cpp - see setup.hpp.
#include "setup.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace baseline {
namespace {

// Lock-free atomics: safe to read and write from a signal handler.
std::atomic<bool> g_stop{false};
std::atomic<int> g_listen{-1};
std::atomic<int> g_conn{-1};
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free);

void usage(FILE* out, const char* argv0, const char* summary, int default_workers) {
    fprintf(out, "usage: %s [--port N] [--bind ADDR] [--protocol echo|http]%s [--help]\n", argv0,
            default_workers > 0 ? " [--workers N]" : "");
    fprintf(out, "  %s\n", summary);
    fprintf(out,
            "  --port N          TCP port (default 0 = the kernel picks; printed as\n"
            "                    'listening on HOST:PORT')\n"
            "  --bind ADDR       IPv4 or IPv6 literal (default 127.0.0.1)\n"
            "  --protocol P      echo (default): TCP echo; http: minimal HTTP/1.1 with keep-alive\n"
            "                    ('Hello, World!' on /, the body echoed on /echo, else 404)\n");
    if (default_workers > 0)
        fprintf(out, "  --workers N       size of the pool (default %d)\n", default_workers);
    fprintf(out, "  --help            show this text\nStops cleanly on SIGINT/SIGTERM.\n");
}

bool parse_int(const char* v, long lo, long hi, int& out) {
    char* end = nullptr;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *v == '\0' || *end != '\0' || x < lo || x > hi) return false;
    out = static_cast<int>(x);
    return true;
}

void on_stop_signal(int) {
    const int saved = errno;
    request_stop();
    errno = saved;
}

}  // namespace

options parse_options(int argc, char** argv, const char* summary, int default_workers) {
    options opt;
    opt.workers = default_workers;
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        bool ok = true;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout, argv[0], summary, default_workers);
            exit(0);
        } else if (!strcmp(a, "--port") && v) {
            ok = parse_int(v, 0, 65535, opt.port);
        } else if (!strcmp(a, "--bind") && v) {
            opt.bind = v;
        } else if (!strcmp(a, "--protocol") && v && (!strcmp(v, "echo") || !strcmp(v, "http"))) {
            opt.proto = !strcmp(v, "http") ? protocol::http : protocol::echo;
        } else if (!strcmp(a, "--workers") && v && default_workers > 0) {
            ok = parse_int(v, 1, 100000, opt.workers);
        } else {
            v = nullptr;
            ok = false;
        }
        if (!ok) {
            fprintf(stderr, "%s: bad or incomplete argument '%s%s%s'\n", argv[0], a, v ? " " : "",
                    v ? v : "");
            usage(stderr, argv[0], summary, default_workers);
            exit(2);
        }
        ++i;
    }
    return opt;
}

void raise_nofile_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == rl.rlim_max) return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        // A hard limit of RLIM_INFINITY can be refused; fall back to nr_open's default.
        rl.rlim_cur = 1 << 20;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int open_listener(const options& opt, bool nonblocking) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, opt.bind, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(static_cast<uint16_t>(opt.port));
        len = sizeof *sin;
    } else if (inet_pton(AF_INET6, opt.bind, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(static_cast<uint16_t>(opt.port));
        len = sizeof *sin6;
    } else {
        fprintf(stderr, "--bind wants an IPv4 or IPv6 literal, got '%s'\n", opt.bind);
        exit(2);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, SOMAXCONN) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
        fprintf(stderr, "cannot listen on %s:%d: %s\n", opt.bind, opt.port, strerror(errno));
        exit(1);
    }
    print_listening(ss);
    return fd;
}

void print_listening(const sockaddr_storage& ss) {
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss.ss_family == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
        printf("listening on %s:%d\n", host, ntohs(sin->sin_port));
    } else {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
        printf("listening on [%s]:%d\n", host, ntohs(sin6->sin6_port));
    }
    fflush(stdout);
}

int accept_connection(int listen_fd, int flags) {
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | flags);
    if (fd >= 0) {
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

void install_stop_handlers() {
    struct sigaction sa{};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a blocked accept()/recv() returns EINTR
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

bool stop_requested() { return g_stop.load(); }
void watch_listener(int fd) { g_listen.store(fd); }

void watch_connection(int fd) {
    g_conn.store(fd);
    // A stop that came before the store has not seen this fd: shut it here instead.
    if (fd >= 0 && g_stop.load()) shutdown(fd, SHUT_RDWR);
}

void request_stop() {
    g_stop.store(true);
    if (int fd = g_listen.load(); fd >= 0) shutdown(fd, SHUT_RDWR);
    if (int fd = g_conn.load(); fd >= 0) shutdown(fd, SHUT_RDWR);
}

sigset_t stop_signals(bool with_child) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    if (with_child) sigaddset(&s, SIGCHLD);
    return s;
}

void block_stop_signals(bool with_child) {
    sigset_t s = stop_signals(with_child);
    pthread_sigmask(SIG_BLOCK, &s, nullptr);
}

void unblock_stop_signals(bool with_child) {
    sigset_t s = stop_signals(with_child);
    pthread_sigmask(SIG_UNBLOCK, &s, nullptr);
}

}  // namespace baseline
