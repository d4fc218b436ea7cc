// baseline_uring.cpp - hand-written single-threaded io_uring TCP echo server (raw liburing).
//
// The physical-limit reference for coil on io_uring, as baseline_epoll is for coil on epoll: the
// strongest single-threaded design this author could write with liburing 2.3 (Debian 12), not a
// straw man, and deliberately free of coil.
//
// - One multishot accept, straight into io_uring's fixed-file table (accept "direct"): a
//   connection never has a normal fd, so no op pays fget/fput and close is an SQE. TCP_NODELAY is
//   set once on the listener; Linux copies it to every accepted socket.
// - One multishot recv per connection with a provided buffer ring (IORING_OP_PROVIDE_BUFFERS'
//   successor, io_uring_register_buf_ring): the kernel picks a buffer when data arrives, so an
//   idle connection holds no buffer and the recv is armed once, not once per message.
// - The echo is sent straight from the ring buffer (no copy); the buffer goes back to the ring
//   when its send has completed. Partial sends resend the rest. A connection has at most one send
//   in flight; buffers received meanwhile wait in a per-connection FIFO (linked through a
//   per-buffer array, no allocation), so bytes go out in the order they came in, also pipelined.
// - One io_uring_submit_and_wait per loop turn; every CQE of the turn is reaped before the next.
//   Buffers go back to the ring with one release store per turn.
// - IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN (task work runs only when we wait: no IPIs, no
//   interruptions) where the kernel has them, else COOP_TASKRUN, else plain; SUBMIT_ALL; a CQ
//   ring 8x the SQ ring; the ring fd registered (io_uring_enter skips its fdget).
// - -ENOBUFS (every buffer is queued for sending): the pool grows, chunk by chunk, up to
//   --buffers; at the cap, the connection's recv is re-armed once buffers come back. A multishot
//   recv that ends for any other reason without an error (a CQE without IORING_CQE_F_MORE) is
//   re-armed at once. Nothing is dropped and no connection is closed for lack of buffers.
// - Back-pressure: a connection whose peer does not read its echoes holds at most
//   kMaxQueuedPerConn buffers; past that its recv is cancelled and re-armed when the queue drains
//   (baseline_epoll stops reading while backlogged, likewise).
//
// Needs Linux 6.0+ (multishot recv); exits 1 with a message if the kernel lacks it.
//
// Try it:   ./baseline_uring --port 7000     then     nc 127.0.0.1 7000
// It prints exactly one line: "listening on 127.0.0.1:PORT" ("[::1]:PORT" for IPv6).
// SIGINT/SIGTERM make it cancel every op, close everything and exit 0.
//
// Build: g++ -std=c++20 -O2 -Wall -Wextra -Wpedantic -o baseline_uring baseline_uring.cpp -luring

#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "setup.hpp"

namespace {

constexpr unsigned kSqEntries = 4096;
constexpr unsigned kCqEntries = kSqEntries * 8;
constexpr unsigned kRingEntries = 32768;  // buffer ring slots: the kernel's maximum
constexpr unsigned kChunkBuffers = 256;   // the pool grows by this many buffers at a time
constexpr uint16_t kGroup = 0;            // buffer group id
constexpr uint16_t kNoBuf = 0xffff;
constexpr uint32_t kMaxQueuedPerConn = 16;
constexpr unsigned kMaxFixedFiles = 1u << 18;
constexpr long long kAcceptBackoffNs = 100'000'000;  // listener pause after ENFILE & co.

// user_data: the op in the top byte, the connection (fixed-file slot) in the low 32 bits.
enum Op : uint64_t { kAccept = 1, kRecv, kSend, kClose, kCancel, kSignal, kAcceptRetry, kCancelAll };
uint64_t tag(Op op, uint32_t conn = 0) { return (static_cast<uint64_t>(op) << 56) | conn; }

struct Conn {
    uint16_t q_head;  // first queued buffer (being sent when `sending`), kNoBuf if none
    uint16_t q_tail;
    uint16_t queued;  // buffers in the queue
    uint32_t sent;    // bytes of the head buffer already sent
    bool open;
    bool recv_armed;  // a multishot recv is in flight (its final CQE not yet seen)
    bool sending;     // a send of q_head is in flight
    bool closing;     // EOF, error or shutdown: close once nothing is in flight
    bool paused;      // recv cancelled for back-pressure; re-armed when the queue drains
    bool waiting;     // on the -ENOBUFS wait list
    uint32_t next_waiting;
};

io_uring g_ring;
io_uring_buf_ring* g_br = nullptr;
size_t g_br_bytes = 0;
unsigned g_buf_size = 16 * 1024;
unsigned g_max_buffers = kRingEntries;
char* g_chunks[kRingEntries / kChunkBuffers] = {};
unsigned g_nbufs = 0;         // buffers allocated (ids 0..g_nbufs-1)
unsigned g_in_ring = 0;       // of those, currently owned by the kernel (in the ring)
unsigned g_returned = 0;      // added to the ring this turn, published at its end
uint32_t* g_buf_len = nullptr;   // [bid] bytes received into it
uint16_t* g_buf_next = nullptr;  // [bid] next buffer in its connection's queue
Conn* g_conns = nullptr;
unsigned g_nconns = 0;        // fixed-file slots
uint32_t g_wait_head = UINT32_MAX, g_wait_tail = UINT32_MAX;  // -ENOBUFS wait list
unsigned g_inflight = 0;      // ops whose final CQE has not been seen
int g_listen_fd = -1;
int g_signal_fd = -1;
signalfd_siginfo g_siginfo;
__kernel_timespec g_backoff{0, kAcceptBackoffNs};
bool g_running = true;
bool g_print_stats = false;
// --stats: printed at exit (the tests check that their premise, e.g. -ENOBUFS, happened).
struct Stats {
    unsigned long long enobufs, rearms, pauses, submits, cqes;
} g_stats{};

void usage(FILE* out, const char* argv0) {
    fprintf(out,
            "usage: %s [--port N] [--bind ADDR] [--buffers N] [--buffer-size B] [--stats] [--help]\n"
            "  --port N         TCP port to listen on (default 0 = kernel picks)\n"
            "  --bind ADDR      IPv4 or IPv6 literal (default 127.0.0.1)\n"
            "  --buffers N      most receive buffers in the provided-buffer ring; the pool\n"
            "                   grows to it on demand (1..32768, default 32768)\n"
            "  --buffer-size B  bytes per receive buffer (64..1048576, default 16384)\n"
            "  --stats          print counters at exit (-ENOBUFS, re-arms, pauses, CQ overflow)\n"
            "  --help           show this text\n"
            "Prints 'listening on HOST:PORT' once, echoes until SIGINT/SIGTERM.\n",
            argv0);
}

// An SQE; a full SQ is submitted first (rare: only when one turn prepares > kSqEntries ops).
io_uring_sqe* sqe_for(uint64_t user_data) {
    io_uring_sqe* sqe = io_uring_get_sqe(&g_ring);
    while (!sqe) {
        io_uring_submit(&g_ring);
        sqe = io_uring_get_sqe(&g_ring);
    }
    io_uring_sqe_set_data64(sqe, user_data);
    ++g_inflight;
    return sqe;
}

char* buf_addr(uint16_t bid) {
    return g_chunks[bid / kChunkBuffers] + static_cast<size_t>(bid % kChunkBuffers) * g_buf_size;
}

// Hands buffer `bid` back to the kernel; visible from the end of this loop turn.
void return_buf(uint16_t bid) {
    io_uring_buf_ring_add(g_br, buf_addr(bid), g_buf_size, bid, io_uring_buf_ring_mask(kRingEntries),
                          static_cast<int>(g_returned));
    ++g_returned;
    ++g_in_ring;
}

void publish_returned() {
    if (g_returned) io_uring_buf_ring_advance(g_br, static_cast<int>(g_returned));
    g_returned = 0;
}

// Adds a chunk of buffers to the pool. False at --buffers or out of memory.
bool grow_pool() {
    if (g_nbufs >= g_max_buffers) return false;
    unsigned n = kChunkBuffers;
    if (g_nbufs + n > g_max_buffers) n = g_max_buffers - g_nbufs;
    // Page-aligned, untouched until the kernel writes into a buffer: the resident memory follows
    // the data in flight, not the pool's size.
    const size_t bytes = (static_cast<size_t>(kChunkBuffers) * g_buf_size + 4095) & ~size_t{4095};
    void* p = aligned_alloc(4096, bytes);  // (C11: the size a multiple of the alignment)
    if (!p) return false;
    g_chunks[g_nbufs / kChunkBuffers] = static_cast<char*>(p);
    for (unsigned i = 0; i < n; ++i) return_buf(static_cast<uint16_t>(g_nbufs + i));
    g_nbufs += n;
    return true;
}

void arm_recv(uint32_t c) {
    io_uring_sqe* sqe = sqe_for(tag(kRecv, c));
    io_uring_prep_recv_multishot(sqe, static_cast<int>(c), nullptr, 0, 0);
    sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
    sqe->buf_group = kGroup;
    g_conns[c].recv_armed = true;
}

void arm_accept() {
    io_uring_sqe* sqe = sqe_for(tag(kAccept));
    io_uring_prep_multishot_accept_direct(sqe, g_listen_fd, nullptr, nullptr, 0);
}

void start_send(uint32_t c) {
    Conn& k = g_conns[c];
    const uint16_t bid = k.q_head;
    io_uring_sqe* sqe = sqe_for(tag(kSend, c));
    // MSG_WAITALL: the kernel itself retries a short send on a stream socket (5.19+); the
    // completion handler still copes with a partial one.
    io_uring_prep_send(sqe, static_cast<int>(c), buf_addr(bid) + k.sent, g_buf_len[bid] - k.sent,
                       MSG_NOSIGNAL | MSG_WAITALL);
    sqe->flags |= IOSQE_FIXED_FILE;
    k.sending = true;
}

void cancel_recv(uint32_t c) {
    io_uring_sqe* sqe = sqe_for(tag(kCancel, c));
    io_uring_prep_cancel64(sqe, tag(kRecv, c), 0);
}

void drop_queue(Conn& k) {
    while (k.q_head != kNoBuf) {
        const uint16_t bid = k.q_head;
        k.q_head = g_buf_next[bid];
        return_buf(bid);
    }
    k.q_tail = kNoBuf;
    k.queued = 0;
    k.sent = 0;
}

// Closes the connection once no op of it is in flight (so no stale CQE can reach a new
// connection that the accept puts in the same fixed-file slot).
void maybe_close(uint32_t c) {
    Conn& k = g_conns[c];
    if (!k.closing || k.recv_armed || k.sending) return;
    drop_queue(k);
    io_uring_sqe* sqe = sqe_for(tag(kClose, c));
    io_uring_prep_close_direct(sqe, c);
    // k.waiting: it stays on the wait list, which skips closed connections.
    k.open = false;
}

void fail(uint32_t c) {
    Conn& k = g_conns[c];
    k.closing = true;
    if (k.recv_armed && !k.paused) cancel_recv(c);
    k.paused = true;  // the cancel is in flight: do not issue another
    maybe_close(c);
}

void wait_for_buffers(uint32_t c) {
    Conn& k = g_conns[c];
    if (k.waiting) return;
    k.waiting = true;
    k.next_waiting = UINT32_MAX;
    if (g_wait_tail == UINT32_MAX) g_wait_head = c; else g_conns[g_wait_tail].next_waiting = c;
    g_wait_tail = c;
}

// Re-arms waiting connections, at most one per buffer in the ring (more would only fail again).
void rearm_waiting() {
    unsigned budget = g_in_ring;
    while (g_wait_head != UINT32_MAX && budget > 0) {
        const uint32_t c = g_wait_head;
        Conn& k = g_conns[c];
        g_wait_head = k.next_waiting;
        if (g_wait_head == UINT32_MAX) g_wait_tail = UINT32_MAX;
        k.waiting = false;
        if (k.open && !k.closing && !k.recv_armed && !k.paused) {
            arm_recv(c);
            --budget;
        }
    }
}

void on_accept(const io_uring_cqe* cqe) {
    const bool more = cqe->flags & IORING_CQE_F_MORE;
    if (!more) --g_inflight;
    if (cqe->res >= 0) {
        const auto c = static_cast<uint32_t>(cqe->res);
        if (!g_running) {
            // Shutting down: unregistering the table closes it.
        } else if (c >= g_nconns) {  // cannot happen: the table has g_nconns slots
            io_uring_prep_close_direct(sqe_for(tag(kClose, c)), c);
        } else {
            // A slot's earlier connection may still be on the -ENOBUFS wait list: keep the link.
            const bool waiting = g_conns[c].waiting;
            const uint32_t next = g_conns[c].next_waiting;
            g_conns[c] = Conn{kNoBuf, kNoBuf, 0, 0, true, false, false, false, false, waiting, next};
            arm_recv(c);
        }
    }
    if (!more && g_running) {
        const int e = -cqe->res;
        if (e == ENFILE || e == EMFILE || e == ENOBUFS || e == ENOMEM) {
            // The fixed-file table (or memory) is full: retry later rather than spin.
            io_uring_prep_timeout(sqe_for(tag(kAcceptRetry)), &g_backoff, 0, 0);
        } else {
            arm_accept();
        }
    }
}

// Re-arms a recv paused for back-pressure once its queue has drained to half.
void maybe_resume(uint32_t c) {
    Conn& k = g_conns[c];
    if (k.paused && !k.closing && !k.recv_armed && k.queued <= kMaxQueuedPerConn / 2) {
        k.paused = false;
        arm_recv(c);
    }
}

void on_recv(uint32_t c, const io_uring_cqe* cqe) {
    Conn& k = g_conns[c];
    const bool more = cqe->flags & IORING_CQE_F_MORE;
    if (!more) {
        --g_inflight;
        k.recv_armed = false;
    }
    const int res = cqe->res;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        const auto bid = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        --g_in_ring;
        if (res <= 0 || k.closing || !g_running) {
            return_buf(bid);
        } else {
            g_buf_len[bid] = static_cast<uint32_t>(res);
            g_buf_next[bid] = kNoBuf;
            if (k.q_tail == kNoBuf) k.q_head = bid; else g_buf_next[k.q_tail] = bid;
            k.q_tail = bid;
            ++k.queued;
            if (!k.sending) start_send(c);
            if (k.queued >= kMaxQueuedPerConn && k.recv_armed && !k.paused) {
                k.paused = true;  // the peer is not reading: stop receiving until it does
                ++g_stats.pauses;
                cancel_recv(c);
            }
        }
    }
    if (!g_running) return;  // shutting down: drain() reaps, nothing is re-armed
    if (k.closing) {
        maybe_close(c);
        return;
    }
    if (res == 0) {  // EOF: queued echoes still go out, then close
        k.closing = true;
        maybe_close(c);
        return;
    }
    if (more) return;
    if (res == -ENOBUFS) {
        ++g_stats.enobufs;
        // Every buffer is queued for sending: grow the pool, or wait until sends return some.
        if (grow_pool()) arm_recv(c); else wait_for_buffers(c);
    } else if (res < 0 && res != -ECANCELED) {  // ECONNRESET & co.
        fail(c);
    } else if (k.paused) {
        maybe_resume(c);  // cancelled for back-pressure (or ended meanwhile)
    } else {
        ++g_stats.rearms;
        arm_recv(c);  // ended without an error (e.g. the CQ overflowed): re-arm
    }
}

void on_send(uint32_t c, const io_uring_cqe* cqe) {
    Conn& k = g_conns[c];
    --g_inflight;
    k.sending = false;
    if (!g_running) {
        drop_queue(k);
        return;
    }
    if (cqe->res < 0) {  // EPIPE, ECONNRESET
        drop_queue(k);
        fail(c);
        return;
    }
    const uint16_t bid = k.q_head;
    k.sent += static_cast<uint32_t>(cqe->res);
    if (k.sent < g_buf_len[bid]) {  // partial: send the rest
        start_send(c);
        return;
    }
    k.sent = 0;
    k.q_head = g_buf_next[bid];
    if (k.q_head == kNoBuf) k.q_tail = kNoBuf;
    --k.queued;
    return_buf(bid);
    if (k.q_head != kNoBuf) start_send(c);
    maybe_resume(c);
    maybe_close(c);
}

void on_cqe(const io_uring_cqe* cqe) {
    const uint64_t ud = io_uring_cqe_get_data64(cqe);
    const auto op = static_cast<Op>(ud >> 56);
    const auto c = static_cast<uint32_t>(ud);
    switch (op) {
        case kAccept: on_accept(cqe); return;
        case kRecv: on_recv(c, cqe); return;
        case kSend: on_send(c, cqe); return;
        case kSignal:
            --g_inflight;
            g_running = false;
            return;
        case kAcceptRetry:
            --g_inflight;
            if (g_running) arm_accept();
            return;
        case kClose: case kCancel: case kCancelAll:
            if (!(cqe->flags & IORING_CQE_F_MORE)) --g_inflight;
            return;
    }
}

int setup_ring() {
    // Strongest first; older kernels refuse the newer flags with -EINVAL.
    const unsigned base = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
    const unsigned tries[] = {
        base | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        base | IORING_SETUP_COOP_TASKRUN,
        base,
    };
    int err = -EINVAL;
    for (unsigned flags : tries) {
        io_uring_params p{};
        p.flags = flags;
        p.cq_entries = kCqEntries;
        err = io_uring_queue_init_params(kSqEntries, &g_ring, &p);
        if (err != -EINVAL) break;
    }
    if (err < 0) return err;
    (void)io_uring_register_ring_fd(&g_ring);  // an optimisation only: fine if refused
    return 0;
}

int setup_buffers() {
    g_br_bytes = kRingEntries * sizeof(io_uring_buf);
    void* mem = mmap(nullptr, g_br_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) return -errno;
    g_br = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_ring_init(g_br);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uintptr_t>(g_br);
    reg.ring_entries = kRingEntries;
    reg.bgid = kGroup;
    if (int r = io_uring_register_buf_ring(&g_ring, &reg, 0); r < 0) return r;
    g_buf_len = static_cast<uint32_t*>(calloc(kRingEntries, sizeof(uint32_t)));
    g_buf_next = static_cast<uint16_t*>(calloc(kRingEntries, sizeof(uint16_t)));
    if (!g_buf_len || !g_buf_next || !grow_pool()) return -ENOMEM;
    publish_returned();
    return 0;
}

int setup_files() {
    rlimit rl{};
    unsigned n = kMaxFixedFiles;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < n)
        n = static_cast<unsigned>(rl.rlim_cur);  // the kernel caps the table at RLIMIT_NOFILE
    if (int r = io_uring_register_files_sparse(&g_ring, n); r < 0) return r;
    // calloc: pages untouched until a slot is used.
    g_conns = static_cast<Conn*>(calloc(n, sizeof(Conn)));
    if (!g_conns) return -ENOMEM;
    g_nconns = n;
    return 0;
}

// Cancels every op in flight and reaps the completions (bounded: 5 s), so that no buffer is
// freed while the kernel may still write into it.
void drain() {
    io_uring_prep_cancel64(sqe_for(tag(kCancelAll)), 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
    for (int i = 0; i < 100 && g_inflight > 0; ++i) {
        __kernel_timespec ts{0, 50'000'000};
        io_uring_cqe* cqe = nullptr;
        io_uring_submit_and_wait_timeout(&g_ring, &cqe, 1, &ts, nullptr);
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&g_ring, head, cqe) {
            ++seen;
            on_cqe(cqe);
        }
        io_uring_cq_advance(&g_ring, seen);
    }
}

}  // namespace

int main(int argc, char** argv) {
    int port = 0;
    const char* bind_addr = "127.0.0.1";
    auto number = [&](const char* v, long lo, long hi, long* out) {
        char* end = nullptr;
        errno = 0;
        const long x = strtol(v, &end, 10);
        if (errno || *v == '\0' || *end != '\0' || x < lo || x > hi) return false;
        *out = x;
        return true;
    };
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        long x = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout, argv[0]);
            return 0;
        } else if (!strcmp(a, "--port") && v) {
            if (!number(v, 0, 65535, &x)) {
                fprintf(stderr, "%s: bad port '%s'\n", argv[0], v);
                usage(stderr, argv[0]);
                return 2;
            }
            port = static_cast<int>(x);
            ++i;
        } else if (!strcmp(a, "--bind") && v) {
            bind_addr = v;
            ++i;
        } else if (!strcmp(a, "--buffers") && v && number(v, 1, kRingEntries, &x)) {
            g_max_buffers = static_cast<unsigned>(x);
            ++i;
        } else if (!strcmp(a, "--stats")) {
            g_print_stats = true;
        } else if (!strcmp(a, "--buffer-size") && v && number(v, 64, 1 << 20, &x)) {
            g_buf_size = static_cast<unsigned>(x);
            ++i;
        } else {
            fprintf(stderr, "%s: bad or incomplete argument '%s'\n", argv[0], a);
            usage(stderr, argv[0]);
            return 2;
        }
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

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &sigs, nullptr);
    g_signal_fd = signalfd(-1, &sigs, SFD_CLOEXEC);

    g_listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (g_signal_fd < 0 || g_listen_fd < 0 ||
        setsockopt(g_listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(g_listen_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        bind(g_listen_fd, reinterpret_cast<sockaddr*>(&ss), sslen) != 0 || listen(g_listen_fd, SOMAXCONN) != 0 ||
        getsockname(g_listen_fd, reinterpret_cast<sockaddr*>(&ss), &sslen) != 0) {
        fprintf(stderr, "%s: cannot listen on %s:%d: %s\n", argv[0], bind_addr, port, strerror(errno));
        return 1;
    }
    if (int r = setup_ring(); r < 0) {
        fprintf(stderr, "%s: io_uring_queue_init: %s\n", argv[0], strerror(-r));
        return 1;
    }
    if (int r = setup_files(); r < 0) {
        fprintf(stderr, "%s: fixed-file table: %s\n", argv[0], strerror(-r));
        return 1;
    }
    if (int r = setup_buffers(); r < 0) {
        fprintf(stderr, "%s: provided-buffer ring: %s (needs Linux 5.19+)\n", argv[0], strerror(-r));
        return 1;
    }

    baseline::print_listening(ss);

    io_uring_prep_read(sqe_for(tag(kSignal)), g_signal_fd, &g_siginfo, sizeof g_siginfo, 0);
    arm_accept();
    while (g_running) {
        const int r = io_uring_submit_and_wait(&g_ring, 1);
        if (r < 0 && r != -EINTR && r != -EBUSY && r != -EAGAIN) {
            fprintf(stderr, "%s: io_uring_submit_and_wait: %s\n", argv[0], strerror(-r));
            break;
        }
        ++g_stats.submits;
        unsigned head, seen = 0;
        io_uring_cqe* cqe = nullptr;
        io_uring_for_each_cqe(&g_ring, head, cqe) {
            ++seen;
            on_cqe(cqe);
        }
        io_uring_cq_advance(&g_ring, seen);
        g_stats.cqes += seen;
        if (g_wait_head != UINT32_MAX) rearm_waiting();
        publish_returned();
    }

    g_running = false;
    const unsigned overflow = io_uring_smp_load_acquire(g_ring.cq.koverflow);
    drain();
    // Closing the fixed-file table closes every connection; then the ring goes.
    io_uring_unregister_files(&g_ring);
    io_uring_unregister_buf_ring(&g_ring, kGroup);
    io_uring_queue_exit(&g_ring);
    for (char* chunk : g_chunks) free(chunk);
    munmap(g_br, g_br_bytes);
    free(g_buf_len);
    free(g_buf_next);
    free(g_conns);
    close(g_listen_fd);
    close(g_signal_fd);
    if (g_print_stats) {
        printf("stats: enobufs=%llu rearms=%llu pauses=%llu pool_buffers=%u loop_turns=%llu "
               "cqes=%llu cq_overflow=%u\n",
               g_stats.enobufs, g_stats.rearms, g_stats.pauses, g_nbufs, g_stats.submits, g_stats.cqes,
               overflow);
        fflush(stdout);
    }
    const int leaked = static_cast<int>(g_inflight);
    if (leaked) fprintf(stderr, "%s: %d ops still in flight at exit\n", argv[0], leaked);
    return 0;
}
