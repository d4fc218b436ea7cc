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
//          --stats, --verbose, --help
// Counters: one line on stderr, "echo_server: stats " then coil::to_key_values(loop.stats())
// (space-separated key=value, keys and units in runtime/loop_stats.hpp).

#include <sys/resource.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "coil/net/tcp_listener.hpp"
#include "coil/runtime.hpp"

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
};

constexpr std::string_view usage =
    "usage: echo_server [--port N] [--bind ADDR] [--backend io_uring|epoll] [--recv pooled|plain]\n"
    "                   [--stats] [--verbose] [--help]\n"
    "  --port N      port to listen on; 0 (default) lets the kernel choose\n"
    "  --bind ADDR   IPv4 or IPv6 address to bind (default 127.0.0.1)\n"
    "  --backend B   io_uring or epoll (default: io_uring where available; COIL_BACKEND wins)\n"
    "  --recv R      pooled (default): recv_pooled, buffers from the loop's pool, none held while\n"
    "                idle; plain: recv into a 16 KiB buffer in each connection's frame\n"
    "  --stats       print the event loop's counters on stderr at exit\n"
    "  --verbose     log coil's info messages too, such as the backend chosen and why\n"
    "Prints 'listening on ADDR:PORT', echoes every byte back, exits 0 on SIGINT/SIGTERM.\n"
    "SIGUSR1 prints the counters on stderr (one line: 'echo_server: stats key=value ...').\n";

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

void print_stats(const coil::event_loop& loop) {
    std::fprintf(stderr, "echo_server: stats %s\n", coil::to_key_values(loop.stats()).c_str());
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

}  // namespace

void report_accept_error(std::error_code error) {
    // At most one line a second: a server out of fds would otherwise flood its log.
    static auto last = coil::clock::time_point{};
    static unsigned suppressed = 0;
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
    std::signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    // coil logs only warnings by default; --verbose adds the one-line backend report.
    if (o.verbose) coil::set_log_level(coil::log_level::info);
    try {
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
