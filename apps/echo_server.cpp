// echo_server: a TCP echo server written as straight-line coroutine code.
//
// Shows: an accept loop plus one coroutine per connection on coil's event loop (io_uring or
// epoll, chosen at run time), back-off on accept errors such as EMFILE, and a graceful stop on
// SIGINT/SIGTERM (stop accepting, close the connections, exit 0), and the loop's counters on
// SIGUSR1 (while running) or with --stats (at exit).
// Try it:  build/release/apps/echo_server --port 7000   and in another shell   nc 127.0.0.1 7000
// Flags:   --port N (0: the kernel picks one; the line "listening on ADDR:PORT" says which),
//          --bind ADDR (default 127.0.0.1), --backend io_uring|epoll, --recv pooled|plain
//          (pooled, the default: recv_pooled; plain: recv into the frame's own buffer),
//          --threads N (N loops, one thread each, each with its own SO_REUSEPORT listener on the
//          same port; docs/threading.md), --accept reuseport|handoff (handoff: loop 0 alone
//          accepts and hands connections out round-robin), --stats, --verbose, --help
// Counters: one line on stderr per loop, "echo_server: stats " then
// coil::to_key_values(loop.stats()) (space-separated key=value, keys and units in
// runtime/loop_stats.hpp).

#include <sys/resource.h>

#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "coil/net/tcp_listener.hpp"
#include "coil/runtime.hpp"
#include "blocked_signals.hpp"
#include "loop_handoff.hpp"
#include "loop_listeners.hpp"

using namespace std::chrono_literals;

void report_accept_error(std::error_code error);
using echo_function = coil::task<void> (*)(coil::tcp_stream);

// --recv plain: the caller's own buffer, in the coroutine frame (16 KiB per connection, even
// while idle); for comparison with the pooled path.
coil::task<void> echo_plain(coil::tcp_stream conn) {
    std::array<std::byte, 16 * 1024> buf;
    for (;;) {
        auto n = co_await conn.recv(buf);
        if (!n) co_return;
        auto sent = co_await conn.send_all(std::span(buf).first(*n));
        if (!sent) co_return;
    }
}

// [readme-example-begin]
coil::task<void> echo(coil::tcp_stream conn) {
    for (;;) {
        auto buf = co_await conn.recv_pooled();  // the loop's buffer, taken only once data came
        if (!buf) co_return;  // eof, reset or shutdown: this connection is over
        auto sent = co_await conn.send_all(buf->bytes());
        if (!sent) co_return;  // the peer went away mid-reply
    }  // (each buf goes back to the pool at the end of its iteration)
}

coil::task<void> serve(coil::tcp_listener listener, echo_function handler) {
    coil::task_group connections(co_await coil::current_cancel_token());
    for (;;) {
        auto conn = co_await listener.accept();
        if (conn) {
            (void)conn->set_nodelay();
            connections.spawn(handler(std::move(*conn)));
        } else if (conn.error() == std::errc::operation_canceled) {
            break;  // shutting down: the connections are being cancelled too
        } else {
            report_accept_error(conn.error());  // e.g. out of fds: back off, keep serving
            co_await coil::sleep_for(100ms);
        }
    }
    co_await connections.join();
}
// [readme-example-end]

namespace {

struct options {
    std::uint16_t port = 0;
    std::string bind = "127.0.0.1";
    std::optional<coil::backend_kind> backend;
    bool verbose = false;
    bool plain_recv = false;  // --recv plain
    bool stats = false;
    std::size_t threads = 1;  // --threads N
    accept_mode accept = accept_mode::reuseport;  // --accept
};

constexpr std::string_view usage =
    "usage: echo_server [--port N] [--bind ADDR] [--backend io_uring|epoll] [--recv pooled|plain]\n"
    "                   [--threads N] [--accept reuseport|handoff] [--stats] [--verbose] [--help]\n"
    "  --port N      port to listen on; 0 (default) lets the kernel choose\n"
    "  --bind ADDR   IPv4 or IPv6 address to bind (default 127.0.0.1)\n"
    "  --backend B   io_uring or epoll (default: io_uring where available; COIL_BACKEND wins)\n"
    "  --recv R      pooled (default): recv_pooled, buffers from the loop's pool, none held while\n"
    "                idle; plain: recv into a 16 KiB buffer in each connection's frame\n"
    "  --threads N   N event loops, one thread each, each accepting on its own SO_REUSEPORT\n"
    "                listener on the same port (default 1); at exit, with N > 1, prints a line\n"
    "                'loop I accepted C connections' per loop\n"
    "  --accept A    with --threads N > 1: reuseport (default): a listener per loop, as above;\n"
    "                handoff: loop 0 alone listens, accepts and hands each connection\n"
    "                round-robin to a loop (itself included), which serves it; the exit lines\n"
    "                then count the connections each loop was handed (docs/threading.md)\n"
    "  --stats       print the event loop's counters on stderr at exit (a line per loop)\n"
    "  --verbose     log coil's info messages too, such as the backend chosen and why\n"
    "Prints 'listening on ADDR:PORT', echoes every byte back, exits 0 on SIGINT/SIGTERM.\n"
    "SIGUSR1 prints the counters on stderr ('echo_server: stats key=value ...'; with --threads N,\n"
    "one line per loop, in no fixed order, each starting with loop=I).\n";

[[noreturn]] void fail_usage(const std::string& message) {
    std::fprintf(stderr, "echo_server: %s\n%.*s", message.c_str(), static_cast<int>(usage.size()),
                 usage.data());
    std::exit(2);
}

options parse_options(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        auto value = [&]() -> std::string_view {
            if (i + 1 >= argc) fail_usage(std::string(arg) + " needs a value");
            return argv[++i];
        };
        if (arg == "--help" || arg == "-h") {
            std::fwrite(usage.data(), 1, usage.size(), stdout);
            std::exit(0);
        } else if (arg == "--port") {
            const std::string text(value());
            char* end = nullptr;
            const long port = std::strtol(text.c_str(), &end, 10);
            if (text.empty() || *end != '\0' || port < 0 || port > 65535) fail_usage("bad port '" + text + "'");
            o.port = static_cast<std::uint16_t>(port);
        } else if (arg == "--stats") {
            o.stats = true;
        } else if (arg == "--threads") {
            const std::string text(value());
            char* end = nullptr;
            const long n = std::strtol(text.c_str(), &end, 10);
            if (text.empty() || *end != '\0' || n < 1 || n > 1024) fail_usage("bad thread count '" + text + "'");
            o.threads = static_cast<std::size_t>(n);
        } else if (arg == "--accept") {
            const auto mode = value();
            if (mode == "reuseport") {
                o.accept = accept_mode::reuseport;
            } else if (mode == "handoff") {
                o.accept = accept_mode::handoff;
            } else {
                fail_usage("unknown accept mode '" + std::string(mode) + "' (reuseport or handoff)");
            }
        } else if (arg == "--verbose" || arg == "-v") {
            o.verbose = true;
        } else if (arg == "--bind") {
            o.bind = value();
        } else if (arg == "--recv") {
            const auto mode = value();
            if (mode == "plain") {
                o.plain_recv = true;
            } else if (mode == "pooled") {
                o.plain_recv = false;
            } else {
                fail_usage("unknown receive mode '" + std::string(mode) + "'");
            }
        } else if (arg == "--backend") {
            const auto name = value();
            o.backend = coil::parse_backend_kind(name);
            if (!o.backend) fail_usage("unknown backend '" + std::string(name) + "'");
        } else {
            fail_usage("unknown argument '" + std::string(arg) + "'");
        }
    }
    return o;
}

// Raises the fd limit so that thousands of connections fit; the hard limit is the ceiling.
void raise_fd_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

coil::task<void> until_signal(coil::signal_set& signals) {
    auto signo = co_await signals.wait();
    if (signo) std::fprintf(stderr, "echo_server: %s, stopping\n", strsignal(*signo));
}

// With --threads N the line starts with loop=I (the loop's index), so the N lines can be told apart.
void print_stats(const coil::event_loop& loop, std::optional<std::size_t> index = std::nullopt) {
    const std::string which = index ? "loop=" + std::to_string(*index) + " " : "";
    std::fprintf(stderr, "echo_server: stats %s%s\n", which.c_str(), coil::to_key_values(loop.stats()).c_str());
    std::fflush(stderr);
}

// Prints the counters at each SIGUSR1 until cancelled (when the server stops).
coil::task<void> stats_on_signal(coil::signal_set& usr1) {
    for (;;) {
        auto signo = co_await usr1.wait();
        if (!signo) co_return;
        print_stats(coil::event_loop::current_or_throw());
    }
}

coil::task<int> run_server(const options& o, coil::signal_set& signals, coil::signal_set& usr1) {
    auto endpoint = coil::ip_endpoint::from_address(o.bind, o.port);
    if (!endpoint) {
        std::fprintf(stderr, "echo_server: '%s' is not an IP address\n", o.bind.c_str());
        co_return 2;
    }
    auto listener = coil::tcp_listener::bind(*endpoint);
    if (!listener) {
        std::fprintf(stderr, "echo_server: cannot listen on %s: %s\n", endpoint->to_string().c_str(),
                     listener.error().message().c_str());
        co_return 1;
    }
    std::printf("listening on %s\n", listener->local_endpoint().to_string().c_str());
    std::fflush(stdout);
    // Whichever ends first wins; a signal cancels serve(), which stops accepting and closes
    // every connection before when_any returns.
    (void)co_await coil::when_any(serve(std::move(*listener), o.plain_recv ? echo_plain : echo),
                                  until_signal(signals), stats_on_signal(usr1));
    co_return 0;
}

// ---- --threads N: one loop per thread (coil::loop_group), each with its own listener.
// Why SO_REUSEPORT listeners by default rather than one acceptor handing connections out (also
// here, --accept handoff, for measuring): the kernel spreads connections over the listeners by a
// hash of the 4-tuple, and each connection then lives on one loop from accept to close, with no
// cross-thread wake per connection (docs/threading.md has the figures and the decision).

thread_local std::size_t connections_here = 0;  // accepted by this thread's loop

template <echo_function Handler>
coil::task<void> counted(coil::tcp_stream conn) {
    ++connections_here;
    co_await Handler(std::move(conn));
}

echo_function counted_handler(const options& o) { return o.plain_recv ? counted<echo_plain> : counted<echo>; }

struct group_state : loop_listeners {
    group_state(const options& opts, const coil::ip_endpoint& ep)
        : loop_listeners(opts.threads, ep, opts.bind, opts.accept), o(opts), handoff(opts.threads, counted_handler(opts)) {}
    const options& o;
    loop_handoff handoff;  // --accept handoff only
};

// --accept handoff, loop 0: accepts bare fds and hands each to the next loop in turn.
coil::task<void> accept_and_hand_out(coil::tcp_listener listener, loop_handoff& handoff) {
    for (;;) {
        auto fd = co_await listener.accept_fd();
        if (fd) {
            handoff.hand_out(std::move(*fd));
        } else if (fd.error() == std::errc::operation_canceled) {
            break;
        } else {
            report_accept_error(fd.error());
            co_await coil::sleep_for(100ms);
        }
    }
}

// --accept handoff: every loop serves what it is handed; loop 0 also accepts. Until the stop (or
// another loop's entry task ends), then the loop takes no more and closes its connections.
coil::task<void> serve_loop_handoff(group_state& st, std::size_t index) {
    std::optional<coil::tcp_listener> listener;
    if (index == 0) {
        listener = co_await st.bind(index);
        if (!listener) co_return;
    }
    coil::task_group connections(co_await coil::current_cancel_token());
    st.handoff.open(index, connections);
    bool serving = false;
    if (index == 0) {
        serving = co_await st.ready(index, *listener);
    } else {
        serving = co_await st.ready(index);
    }
    if (serving && index == 0) {
        co_await accept_and_hand_out(std::move(*listener), st.handoff);
    } else if (serving) {
        (void)co_await st.ended.wait();  // operation_canceled at the stop
    }
    st.handoff.close(index);
    co_await connections.join();
}

coil::task<void> serve_loop(group_state& st, std::size_t index) {
    set_on_exit guard{st.ended};
    if (st.mode() == accept_mode::handoff) {
        co_await serve_loop_handoff(st, index);
    } else {
        auto listener = co_await st.bind(index);
        if (!listener) co_return;
        const bool serving = co_await st.ready(index, *listener);
        if (!serving) co_return;
        co_await serve(std::move(*listener), counted_handler(st.o));
    }
    st.accepted[index] = connections_here;
    if (st.o.stats) print_stats(coil::event_loop::current_or_throw(), index);
}

coil::task<void> wait_for_end(coil::event& ended) { (void)co_await ended.wait(); }

// SIGUSR1 with --threads: each loop prints its own counters, on its own thread (stats() is
// loop-thread only).
coil::task<void> group_stats_on_signal(coil::signal_set& usr1, coil::loop_group& group) {
    for (;;) {
        auto signo = co_await usr1.wait();
        if (!signo) co_return;
        for (std::size_t i = 0; i < group.size(); ++i) {
            group.loop(i).post([i] { print_stats(coil::event_loop::current_or_throw(), i); });
        }
    }
}

coil::task<void> until_signal_or_end(coil::signal_set& signals, coil::event& ended,
                                     coil::signal_set& usr1, coil::loop_group& group) {
    (void)co_await coil::when_any(until_signal(signals), wait_for_end(ended),
                                  group_stats_on_signal(usr1, group));
}

int run_threads(const options& o) {
    auto endpoint = coil::ip_endpoint::from_address(o.bind, o.port);
    if (!endpoint) {
        std::fprintf(stderr, "echo_server: '%s' is not an IP address\n", o.bind.c_str());
        return 2;
    }
    // This thread waits for the signals; the set blocks them here before the loop threads start,
    // so they inherit the mask and a SIGTERM reaches the set (signal_set.hpp).
    coil::event_loop main_loop(coil::loop_options{o.backend});
    coil::signal_set signals({SIGINT, SIGTERM});
    coil::signal_set usr1({SIGUSR1});
    group_state st(o, *endpoint);
    coil::loop_group_options go;
    go.threads = o.threads;
    go.loop.backend = o.backend;
    coil::loop_group group(go, [&st](std::size_t i) { return serve_loop(st, i); });
    main_loop.run(until_signal_or_end(signals, st.ended, usr1, group));
    group.request_stop();
    try {
        group.join();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_server: %s\n", e.what());
        return 1;
    }
    for (std::size_t i = 0; i < st.accepted.size(); ++i) {
        std::printf("loop %zu accepted %zu connections\n", i, st.accepted[i]);
    }
    std::fflush(stdout);
    return 0;
}

}  // namespace

void report_accept_error(std::error_code error) {
    // At most one line a second: a server out of fds would otherwise flood its log.
    thread_local auto last = coil::clock::time_point{};  // per loop thread (--threads)
    thread_local unsigned suppressed = 0;
    const auto now = coil::clock::now();
    if (now - last < 1s) {
        ++suppressed;
        return;
    }
    std::fprintf(stderr, "echo_server: accept failed: %s (%u more since the last report); backing off\n",
                 error.message().c_str(), suppressed);
    last = now;
    suppressed = 0;
}

int main(int argc, char** argv) {
    const options o = parse_options(argc, argv);
    // Before any thread or signal_set: a stop signal must never get its default action (blocked_signals.hpp).
    block_signals_for_the_process({SIGINT, SIGTERM, SIGUSR1});
    std::signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    // coil logs only warnings by default; --verbose adds the one-line backend report.
    if (o.verbose) coil::set_log_level(coil::log_level::info);
    try {
        if (o.threads > 1) return run_threads(o);
        coil::event_loop loop(coil::loop_options{o.backend});
        coil::signal_set signals({SIGINT, SIGTERM});
        coil::signal_set usr1({SIGUSR1});
        const int status = loop.run(run_server(o, signals, usr1));
        if (o.stats) print_stats(loop);
        return status;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_server: %s\n", e.what());
        return 1;
    }
}
