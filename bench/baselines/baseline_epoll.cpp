// baseline_epoll.cpp - hand-written single-threaded epoll TCP echo server.
//
// This is the yardstick for "coil vs a hand-written epoll server" benchmarks,
// so it is meant to be the strongest reasonable single-threaded design, not a
// straw man: non-blocking sockets, TCP_NODELAY, one shared hot read buffer,
// per-connection backlog memory only when a write is partial, no epoll_ctl
// on the per-message path, and batches of 512 events per epoll_wait.
//
// Edge- vs level-triggered: both are implemented (--mode et|lt); ET is the
// default. Measured on a 2-core VM (server and a 100-connection 64-byte
// ping-pong client pinned to separate cores, 2 s runs, ET/LT interleaved):
// throughput was a tie within noise (~157k vs ~158k msg/s, +-1%, and the
// order within a pair mattered more than the mode), while ET used slightly
// less server CPU per message (median paired ratio 0.99, lower in 10 of 11
// pairs). ET also never calls epoll_ctl after the initial ADD: connections
// are registered once with EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET, whereas LT
// must EPOLL_CTL_MOD when a write backlog appears/disappears and its ready
// list re-polls every reported fd on the next epoll_wait.
//
// Echo semantics: read what is available, send it back immediately. If the
// send is partial, the unsent tail is kept in a per-connection buffer and the
// connection stops reading until the tail is flushed on EPOLLOUT; then it
// resumes reading. Bytes are never dropped or reordered.
//
// --protocol http (the architecture comparison, ./dev bench arch): the same
// loop, listener and ET registration, with the minimal HTTP/1.1 of
// protocol.hpp. Its per-connection state (request bytes not yet complete,
// response bytes not yet sent) lives in a separate array, so the echo path
// above is unchanged: the only addition on it is one predictable branch per
// event. HTTP reads to EAGAIN, answers every complete (pipelined) request
// with one send, and like echo stops reading while a response is unsent.
// HTTP is edge-triggered only (--mode lt is refused with it).
//
// Known limits (background reading 001, 004): one thread, so one core is
// the ceiling and a slow handler stalls every connection; the classic table
// shows it holding ~1,900-2,600 requests/s up to 13,000 connections (1,281
// at 15,000), because epoll_wait costs O(ready), not O(connections) as
// poll() does.
//
// Try it:   ./baseline_epoll --port 7000     then     nc 127.0.0.1 7000
// It prints exactly one line: "listening on 127.0.0.1:PORT" ("[::1]:PORT"
// for IPv6). SIGINT/SIGTERM make it close everything and exit 0.
//
// Build: g++ -std=c++20 -O2 -Wall -Wextra -Wpedantic -o baseline_epoll
//            baseline_epoll.cpp protocol.cpp setup.cpp

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <string>
#include <unistd.h>
#include <vector>

#include "protocol.hpp"
#include "setup.hpp"

namespace {

constexpr size_t kBufSize = 64 * 1024;  // read size == max backlog per conn
constexpr int kMaxEvents = 512;
constexpr int kAcceptBackoffMs = 100;  // listener pause after EMFILE & co.

// Per-connection state, in a flat array indexed by fd. Only connections
// whose last send was partial own a backlog buffer (allocated lazily, kept
// until close), so 10k idle connections cost 16 bytes each.
struct Conn {
    char* pend;         // unsent bytes (nullptr until first partial send)
    uint32_t pend_off;  // first unsent byte in pend
    uint32_t pend_len;  // end of unsent bytes in pend; backlogged iff off < len
    bool open;
};

Conn* g_conns = nullptr;
size_t g_nconns = 0;
char g_rbuf[kBufSize];  // shared read buffer: hot in cache, no per-conn copy
bool g_et = true;
int g_ep = -1;
bool g_http = false;  // --protocol http

// --protocol http only: per-connection state, indexed by fd, apart from Conn.
struct HttpConn {
    std::string in;   // the start of a request not yet complete
    std::string out;  // response bytes not yet sent (reading paused meanwhile)
    bool close_after = false;  // close once `out` is flushed
};
std::vector<HttpConn> g_http_conns;

void usage(FILE* out, const char* argv0) {
    fprintf(out,
            "usage: %s [--port N] [--bind ADDR] [--mode et|lt] [--protocol echo|http] [--help]\n"
            "  --port N      TCP port to listen on (default 0 = kernel picks)\n"
            "  --bind ADDR   IPv4 or IPv6 literal (default 127.0.0.1)\n"
            "  --mode et|lt  epoll edge- or level-triggered (default et: ties LT\n"
            "                on 64-byte ping-pong, slightly less CPU/msg)\n"
            "  --protocol P  echo (default) or http: minimal HTTP/1.1 with keep-alive\n"
            "                ('Hello, World!' on /, the body echoed on /echo; et only)\n"
            "  --help        show this text\n"
            "Prints 'listening on HOST:PORT' once, echoes until SIGINT/SIGTERM.\n",
            argv0);
}

Conn* conn_slot(int fd) {
    if (static_cast<size_t>(fd) >= g_nconns) {
        size_t n = g_nconns ? g_nconns : 1024;
        while (n <= static_cast<size_t>(fd)) n *= 2;
        auto* p = static_cast<Conn*>(realloc(g_conns, n * sizeof(Conn)));
        if (!p) return nullptr;
        memset(p + g_nconns, 0, (n - g_nconns) * sizeof(Conn));
        g_conns = p;
        g_nconns = n;
    }
    return &g_conns[fd];
}

void close_conn(int fd) {
    Conn& c = g_conns[fd];
    free(c.pend);
    c = Conn{};
    close(fd);  // also removes fd from the epoll set
}

void set_interest(int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    (void)epoll_ctl(g_ep, EPOLL_CTL_MOD, fd, &ev);
}

// Send buf[0..n); keep any unsent tail as backlog. Returns false if the
// connection must be closed.
bool send_or_keep(int fd, Conn& c, const char* buf, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t w = send(fd, buf + done, n - done, MSG_NOSIGNAL);
        if (w > 0) { done += static_cast<size_t>(w); continue; }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        return false;  // EPIPE, ECONNRESET, ...
    }
    if (done == n) return true;
    if (!c.pend && !(c.pend = static_cast<char*>(malloc(kBufSize)))) return false;
    memcpy(c.pend, buf + done, n - done);
    c.pend_off = 0;
    c.pend_len = static_cast<uint32_t>(n - done);
    // ET: EPOLLOUT is already registered. LT: watch only EPOLLOUT until
    // flushed (this pauses reading; EPOLLRDHUP would be a level that spins
    // once the peer half-closes). Only this path costs an epoll_ctl.
    if (!g_et) set_interest(fd, EPOLLOUT);
    return true;
}

// Readable (or resumed after a flush): read and echo. Returns false to close.
// `drain`: ET must read to EAGAIN/EOF, without the short-read shortcut, when
// no future edge is guaranteed: the FIN is already in (EPOLLRDHUP), or
// edges were ignored while the connection was backlogged.
bool on_readable(int fd, Conn& c, bool drain) {
    for (;;) {
        ssize_t r = recv(fd, g_rbuf, kBufSize, 0);
        if (r == 0) return false;  // EOF: all echoes already handed to kernel
        if (r < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        if (!send_or_keep(fd, c, g_rbuf, static_cast<size_t>(r))) return false;
        if (c.pend_off < c.pend_len) return true;  // backlogged: stop reading
        // LT: one read per event; the kernel reports the fd again if more is
        // queued. ET: we must drain, but a short read means the receive
        // queue was empty at that moment, so we skip the extra recv() that
        // would only return EAGAIN. Data or FIN arriving after the
        // epoll_wait that reported this fd raises a fresh edge, so nothing is
        // missed; a FIN that came before it is covered by `drain`.
        if (!g_et || (!drain && static_cast<size_t>(r) < kBufSize)) return true;
    }
}

// Writable: flush the backlog; once empty, resume reading. Returns false to close.
bool on_writable(int fd, Conn& c) {
    while (c.pend_off < c.pend_len) {
        ssize_t w = send(fd, c.pend + c.pend_off, c.pend_len - c.pend_off, MSG_NOSIGNAL);
        if (w > 0) { c.pend_off += static_cast<uint32_t>(w); continue; }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        return false;
    }
    c.pend_off = c.pend_len = 0;
    if (!g_et) {
        set_interest(fd, EPOLLIN | EPOLLRDHUP);
        return true;  // level-triggered: EPOLLIN is reported again if pending
    }
    // ET: EPOLLIN edges seen while backlogged were ignored, so read now.
    return on_readable(fd, c, true);
}

// Accept until EAGAIN. Returns false if the listener should be paused
// (EMFILE/ENFILE/ENOBUFS/ENOMEM), so that we neither spin nor die.
bool accept_all(int lfd) {
    for (;;) {
        int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            switch (errno) {
                case EAGAIN:
#if EAGAIN != EWOULDBLOCK
                case EWOULDBLOCK:
#endif
                    return true;
                case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
                    return false;
                default:
                    continue;  // EINTR, ECONNABORTED, EPROTO, ...: next one
            }
        }
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        Conn* c = conn_slot(fd);
        epoll_event ev{};
        ev.events = g_et ? (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) : (EPOLLIN | EPOLLRDHUP);
        ev.data.fd = fd;
        if (!c || epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            continue;
        }
        c->open = true;
    }
}

// --protocol http: sends what it can of h.out. False on a send error.
bool http_flush(int fd, HttpConn& h) {
    size_t done = 0;
    while (done < h.out.size()) {
        ssize_t w = send(fd, h.out.data() + done, h.out.size() - done, MSG_NOSIGNAL);
        if (w > 0) { done += static_cast<size_t>(w); continue; }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        return false;
    }
    h.out.erase(0, done);
    return true;
}

// --protocol http: one epoll event (edge-triggered). Returns false to close.
bool on_http_event(int fd, uint32_t e) {
    if (static_cast<size_t>(fd) >= g_http_conns.size())
        g_http_conns.resize(static_cast<size_t>(fd) + 1024);
    HttpConn& h = g_http_conns[fd];
    if (e & (EPOLLERR | EPOLLHUP)) return false;
    if (!h.out.empty()) {
        if (!http_flush(fd, h)) return false;
        if (!h.out.empty()) return true;  // the next EPOLLOUT edge continues
        if (h.close_after) {
            baseline::discard_and_shutdown(fd);
            return false;
        }
        // Flushed: input edges seen while backlogged were ignored, so read now.
    }
    for (;;) {  // ET: read to EAGAIN
        ssize_t r = recv(fd, g_rbuf, kBufSize, 0);
        if (r == 0) return false;
        if (r < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        h.in.append(g_rbuf, static_cast<size_t>(r));
        h.close_after = !baseline::http_consume(h.in, h.out);
        if (!http_flush(fd, h)) return false;
        if (!h.out.empty()) return true;  // backlogged: stop reading until flushed
        if (h.close_after) {
            baseline::discard_and_shutdown(fd);
            return false;
        }
    }
}

long long now_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

int main(int argc, char** argv) {
    int port = 0;
    const char* bind_addr = "127.0.0.1";
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout, argv[0]);
            return 0;
        } else if (!strcmp(a, "--port") && v) {
            char* end = nullptr;
            errno = 0;
            long p = strtol(v, &end, 10);
            if (errno || *v == '\0' || *end != '\0' || p < 0 || p > 65535) {
                fprintf(stderr, "%s: bad port '%s'\n", argv[0], v);
                usage(stderr, argv[0]);
                return 2;
            }
            port = static_cast<int>(p);
            ++i;
        } else if (!strcmp(a, "--bind") && v) {
            bind_addr = v;
            ++i;
        } else if (!strcmp(a, "--mode") && v && (!strcmp(v, "et") || !strcmp(v, "lt"))) {
            g_et = !strcmp(v, "et");
            ++i;
        } else if (!strcmp(a, "--protocol") && v && (!strcmp(v, "echo") || !strcmp(v, "http"))) {
            g_http = !strcmp(v, "http");
            ++i;
        } else {
            fprintf(stderr, "%s: bad or incomplete argument '%s'\n", argv[0], a);
            usage(stderr, argv[0]);
            return 2;
        }
    }

    if (g_http && !g_et) {
        fprintf(stderr, "%s: --protocol http is edge-triggered only (no --mode lt)\n", argv[0]);
        return 2;
    }

    sockaddr_storage ss{};
    socklen_t sslen = 0;
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, bind_addr, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(static_cast<uint16_t>(port));
        sslen = sizeof *sin;
    } else if (inet_pton(AF_INET6, bind_addr, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(static_cast<uint16_t>(port));
        sslen = sizeof *sin6;
    } else {
        fprintf(stderr, "%s: --bind wants an IPv4 or IPv6 literal, got '%s'\n", argv[0], bind_addr);
        usage(stderr, argv[0]);
        return 2;
    }

    baseline::raise_nofile_limit();
    signal(SIGPIPE, SIG_IGN);  // belt and braces; every send uses MSG_NOSIGNAL

    // SIGINT/SIGTERM arrive through a signalfd in the epoll set.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &sigs, nullptr);
    int sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);

    int lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (sfd < 0 || lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(lfd, reinterpret_cast<sockaddr*>(&ss), sslen) != 0 || listen(lfd, SOMAXCONN) != 0 ||
        getsockname(lfd, reinterpret_cast<sockaddr*>(&ss), &sslen) != 0) {
        fprintf(stderr, "%s: cannot listen on %s:%d: %s\n", argv[0], bind_addr, port, strerror(errno));
        return 1;
    }
    g_ep = epoll_create1(EPOLL_CLOEXEC);
    // The listener and signalfd are level-triggered in both modes: one
    // accept4 loop per wakeup either way, and re-arming after a pause is trivial.
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    epoll_event sev{};
    sev.events = EPOLLIN;
    sev.data.fd = sfd;
    if (g_ep < 0 || epoll_ctl(g_ep, EPOLL_CTL_ADD, lfd, &ev) != 0 ||
        epoll_ctl(g_ep, EPOLL_CTL_ADD, sfd, &sev) != 0) {
        fprintf(stderr, "%s: epoll setup failed: %s\n", argv[0], strerror(errno));
        return 1;
    }

    baseline::print_listening(ss);

    static epoll_event evs[kMaxEvents];
    long long resume_accept_at = -1;  // >= 0 while the listener is paused
    bool running = true;
    while (running) {
        int timeout = -1;
        if (resume_accept_at >= 0) {
            long long left = resume_accept_at - now_ms();
            if (left <= 0) {
                (void)epoll_ctl(g_ep, EPOLL_CTL_ADD, lfd, &ev);
                resume_accept_at = -1;
            } else {
                timeout = static_cast<int>(left);
            }
        }
        int n = epoll_wait(g_ep, evs, kMaxEvents, timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            break;
        }
        for (int i = 0; i < n; ++i) {
            int fd = evs[i].data.fd;
            uint32_t e = evs[i].events;
            if (fd == lfd) {
                if (!accept_all(lfd)) {  // out of fds/memory: pause accepting
                    (void)epoll_ctl(g_ep, EPOLL_CTL_DEL, lfd, nullptr);
                    resume_accept_at = now_ms() + kAcceptBackoffMs;
                }
                continue;
            }
            if (fd == sfd) {
                running = false;
                continue;
            }
            Conn& c = g_conns[fd];
            if (!c.open) continue;
            if (g_http) {
                if (!on_http_event(fd, e)) {
                    g_http_conns[fd] = HttpConn{};
                    close_conn(fd);
                }
                continue;
            }
            bool ok;
            if (e & (EPOLLERR | EPOLLHUP)) {
                ok = false;  // reset, or both directions shut: peer can't take echoes
            } else if (c.pend_off < c.pend_len) {
                ok = !(e & EPOLLOUT) || on_writable(fd, c);  // input waits for the flush
            } else {
                // EPOLLRDHUP alone means FIN: read the rest and then see EOF.
                ok = !(e & (EPOLLIN | EPOLLRDHUP)) || on_readable(fd, c, e & EPOLLRDHUP);
            }
            if (!ok) close_conn(fd);
        }
    }

    for (size_t fd = 0; fd < g_nconns; ++fd)
        if (g_conns[fd].open) close_conn(static_cast<int>(fd));
    free(g_conns);
    close(lfd);
    close(sfd);
    close(g_ep);
    return 0;
}
