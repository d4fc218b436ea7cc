// baseline_poll.cpp - the poll() server: one thread, non-blocking sockets, readiness by poll().
//
// Architecture: one event loop; every connection is an entry of one pollfd array, which poll()
// is given whole on every call, and the loop then walks every entry's revents.
//
// Known limits (background reading 000, 001, 003): each poll() call copies the whole array into
// the kernel, which checks every fd, and the loop then scans every entry, so the cost per
// wake-up is O(connections) even when one is ready: the classic table shows it peaking at
// ~2,250 requests/s around 300 connections, then 900 at 1,500, 550 at 2,000, and "wide
// variations" from 3,000. One thread: a slow handler
// stalls everyone, and one core is the ceiling. This is the strongest reasonable poll() server:
// level-triggered, one read per ready fd per round (fair), TCP_NODELAY, one shared read buffer
// for echo, O(1) removal (the last entry moves into the hole), output kept per connection only
// when a send is partial, with reading paused until it is flushed (so a client that does not read
// cannot make the server buffer without bound).
//
// Stopping: SIGINT/SIGTERM arrive through a signalfd in the poll set; the loop closes every
// connection and returns 0.
#include <cerrno>
#include <csignal>
#include <ctime>
#include <poll.h>
#include <string>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include "protocol.hpp"
#include "setup.hpp"

namespace {

using baseline::protocol;

struct conn {
    std::string in;   // http: the start of a request not yet complete
    std::string out;  // bytes not yet sent: while non-empty the connection waits for POLLOUT
    bool close_after = false;  // http: close once `out` is flushed
};

constexpr size_t read_size = 64 * 1024;
char g_buf[read_size];  // shared read buffer

// Sends what it can of [data, data + n) and keeps the rest in c.out. False on a send error.
bool send_or_keep(int fd, conn& c, const char* data, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, data, n, MSG_NOSIGNAL);
        if (w > 0) {
            data += w;
            n -= static_cast<size_t>(w);
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            return false;
        }
    }
    c.out.assign(data, n);
    return true;
}

// Handles one ready connection. False: close it.
bool on_ready(pollfd& p, conn& c, protocol proto) {
    if (p.revents & (POLLERR | POLLNVAL)) return false;
    if (!c.out.empty()) {  // waiting to flush: only POLLOUT was asked for
        std::string pending;
        pending.swap(c.out);
        if (!send_or_keep(p.fd, c, pending.data(), pending.size())) return false;
        if (!c.out.empty()) return true;
        if (c.close_after) {
            baseline::discard_and_shutdown(p.fd);
            return false;
        }
        p.events = POLLIN;  // flushed: read again (level-triggered, so nothing is missed)
        return true;
    }
    ssize_t r = recv(p.fd, g_buf, read_size, 0);
    if (r == 0) return false;
    if (r < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    if (proto == protocol::echo) {
        if (!send_or_keep(p.fd, c, g_buf, static_cast<size_t>(r))) return false;
    } else {
        c.in.append(g_buf, static_cast<size_t>(r));
        std::string out;
        c.close_after = !baseline::http_consume(c.in, out);
        if (!send_or_keep(p.fd, c, out.data(), out.size())) return false;
        if (c.out.empty() && c.close_after) {
            baseline::discard_and_shutdown(p.fd);
            return false;
        }
    }
    if (!c.out.empty()) p.events = POLLOUT;  // pause reading until flushed
    return true;
}

long long now_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace baseline;
    const options opt = parse_options(argc, argv, "poll() server: one thread, one pollfd array", 0);
    raise_nofile_limit();
    signal(SIGPIPE, SIG_IGN);
    sigset_t sigs = stop_signals(false);
    sigprocmask(SIG_BLOCK, &sigs, nullptr);
    const int sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) return 1;
    const int lfd = open_listener(opt, true);

    // [0] the signalfd, [1] the listener, then one entry per connection with its state in
    // conns[i] (same index).
    std::vector<pollfd> fds{{sfd, POLLIN, 0}, {lfd, POLLIN, 0}};
    std::vector<conn> conns(2);
    long long resume_accept_at = -1;  // >= 0 while accepting is paused (out of fds)
    for (;;) {
        int timeout = -1;
        if (resume_accept_at >= 0) {
            long long left = resume_accept_at - now_ms();
            if (left <= 0) {
                fds[1].events = POLLIN;
                resume_accept_at = -1;
            } else {
                timeout = static_cast<int>(left);
            }
        }
        int n = poll(fds.data(), fds.size(), timeout);
        if (n < 0 && errno != EINTR) break;
        if (n <= 0) continue;
        if (fds[0].revents) break;  // SIGINT/SIGTERM
        size_t i = 2;
        const size_t polled = fds.size();
        for (size_t seen = 2; seen < polled; ++seen) {
            if (fds[i].revents == 0 || on_ready(fds[i], conns[i], opt.proto)) {
                ++i;
                continue;
            }
            close(fds[i].fd);
            // Move the last entry into the hole; if it was polled this round it is handled next
            // (its revents come with it); if it was accepted below, it is not there yet.
            if (i + 1 < fds.size()) {
                fds[i] = fds.back();
                conns[i] = std::move(conns.back());
            }
            fds.pop_back();
            conns.pop_back();
        }
        if (fds[1].revents & POLLIN) {
            for (;;) {
                int fd = accept_connection(lfd, SOCK_NONBLOCK);
                if (fd >= 0) {
                    fds.push_back({fd, POLLIN, 0});
                    conns.emplace_back();
                    continue;
                }
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                    fds[1].events = 0;  // pause accepting instead of spinning on a full table
                    resume_accept_at = now_ms() + 100;
                }
                if (errno != EINTR && errno != ECONNABORTED) break;
            }
        }
    }
    for (size_t i = 2; i < fds.size(); ++i) close(fds[i].fd);
    close(lfd);
    close(sfd);
    return 0;
}
