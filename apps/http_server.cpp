// http_server: an HTTP/1.1 server on coil::http, with these routes.
//
//   GET /       -> "Hello, World!"
//   /echo       -> 200 echoing the request: the body for a request that has one (POST, PUT...),
//                  else the request line and header fields as text
//   /static/... -> the files under --root, if given (sendfile, ETag/304, Range/206)
//   GET /cpu?kib=N -> the hex SHA-256 of N KiB of generated data (CPU work; apps/cpu_work.hpp),
//                  inline on the loop, or on the thread pool with --offload; N over 16384: 400
//
// Graceful stop on SIGINT/SIGTERM: stop accepting, close idle connections, let requests in
// progress finish (up to --grace), exit 0.
// Try it:  build/release/apps/http_server --port 8080   and   curl -v http://127.0.0.1:8080/
// Flags:   --port N (0: the kernel picks one; the line "listening on ADDR:PORT" says which),
//          --bind ADDR, --backend io_uring|epoll, --offload, --threads N (N loops, one thread
//          each, each with its own SO_REUSEPORT listener on the same port), --verbose, the
//          timeouts and limits (see --help)

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "cpu_work.hpp"
#include "coil/http/server.hpp"
#include "coil/http/static_files.hpp"
#include "coil/net/tcp_listener.hpp"
#include "coil/runtime.hpp"
#include "blocked_signals.hpp"
#include "loop_listeners.hpp"

using namespace std::chrono_literals;
using coil::http::request;
using coil::http::response;

// [readme-example-begin]
void hello(request&, response& res) {
    res.add_header("Content-Type", "text/plain");
    res.set_body("Hello, World!");
}

void echo(request& req, response& res) {
    res.add_header("Content-Type", "text/plain");
    if (req.has_body()) {
        res.set_body(req.body());  // read whole before the handler runs (up to --max-body)
        return;
    }
    res.set_body(req.method());  // no body: echo the request line and the header fields
    res.append_body(" ");
    res.append_body(req.target());
    res.append_body(req.version_minor() == 1 ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n");
    for (const auto& field : req.fields()) {
        res.append_body(field.name);
        res.append_body(": ");
        res.append_body(field.value);
        res.append_body("\r\n");
    }
}

coil::http::router make_routes() {
    coil::http::router routes;
    routes.add("GET", "/", hello);
    for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) routes.add(method, "/echo", echo);
    return routes;
}
// [readme-example-end]

namespace {

// GET /cpu?kib=N: SHA-256 over N KiB of generated data (apps/cpu_work.hpp), the hex digest as the
// body. Inline on the loop (every other connection waits meanwhile), or with --offload on the
// thread pool. N missing, malformed, or over max_cpu_kib: 400.
std::optional<std::size_t> kib_parameter(std::string_view query) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (pair.substr(0, 4) != "kib=") continue;
        const std::string_view digits = pair.substr(4);
        std::size_t value = 0;
        if (digits.empty() || digits.size() > 9) return std::nullopt;
        for (char c : digits) {
            if (c < '0' || c > '9') return std::nullopt;
            value = value * 10 + static_cast<std::size_t>(c - '0');
        }
        return value;
    }
    return std::nullopt;
}

coil::task<void> cpu(request& req, response& res, coil::thread_pool* offload) {
    res.add_header("Content-Type", "text/plain");
    const std::optional<std::size_t> kib = kib_parameter(req.query());
    if (!kib || *kib > coil_apps::max_cpu_kib) {
        res.set_status(400);
        res.set_body("GET /cpu?kib=N needs N from 0 to " + std::to_string(coil_apps::max_cpu_kib) + "\n");
        co_return;
    }
    if (!offload) {
        res.set_body(coil_apps::sha256_of_generated(*kib) + "\n");
        co_return;
    }
    auto job = [n = *kib] { return coil_apps::sha256_of_generated(n); };
    auto digest = co_await offload->run(job);
    if (!digest) {  // cancelled (the server is stopping) before a pool thread took it
        res.set_status(503);
        res.set_body("shutting down\n");
        co_return;
    }
    res.set_body(*digest + "\n");
}

struct options {
    std::uint16_t port = 0;
    std::string bind = "127.0.0.1";
    std::string root;  // serve its files under /static/ when set
    std::optional<coil::backend_kind> backend;
    coil::http::server_options server;
    std::chrono::milliseconds grace{10'000};
    bool verbose = false;
    bool offload = false;  // GET /cpu on the thread pool
    std::optional<int> pool_nice;  // --pool-nice N: the pool threads' nice value
    std::size_t threads = 1;  // --threads N
};

constexpr std::string_view usage =
    "usage: http_server [--port N] [--bind ADDR] [--backend io_uring|epoll] [options] [--verbose] [--help]\n"
    "  --port N                 port to listen on; 0 (default) lets the kernel choose\n"
    "  --bind ADDR              IPv4 or IPv6 address to bind (default 127.0.0.1)\n"
    "  --backend B              io_uring or epoll (default: io_uring where available; COIL_BACKEND wins)\n"
    "  --root DIR               serve the files under DIR at /static/ (none by default)\n"
    "  --header-timeout MS      whole request head, from its first octet (default 60000)\n"
    "  --keepalive-timeout MS   idle wait for the next request (default 75000)\n"
    "  --body-timeout MS        between two reads of a request body (default 60000)\n"
    "  --send-timeout MS        between two sends of a response (default 60000)\n"
    "  --keepalive-requests N   requests per connection (default 1000)\n"
    "  --max-body N             request body octets; over it: 413 (default 1048576)\n"
    "  --max-request-line N     request line octets; over it: 414 (default 8192)\n"
    "  --max-header N           header field octets; over it: 431 (default 32768)\n"
    "  --grace MS               graceful stop: time left to requests in progress (default 10000)\n"
    "  --offload                compute GET /cpu on the thread pool (default: inline on the loop)\n"
    "  --pool-nice N            with --offload: the pool threads run at nice N (0..19), so that\n"
    "                           the event loop gets the larger share of a core it shares with\n"
    "                           /cpu work (default: the server's own nice)\n"
    "  --threads N              N event loops, one thread each, each accepting on its own\n"
    "                           SO_REUSEPORT listener on the same port (default 1); at exit,\n"
    "                           with N > 1, prints 'loop I accepted C connections' per loop\n"
    "  --verbose                log coil's info messages too, such as the backend chosen and why\n"
    "Routes: GET / -> Hello, World!; /echo -> the request's body, or its head as text;\n"
    "        /static/... -> the files under --root; GET /cpu?kib=N -> SHA-256 of N KiB.\n"
    "Prints 'listening on ADDR:PORT'; exits 0 on SIGINT/SIGTERM after a graceful stop.\n";

[[noreturn]] void fail_usage(const std::string& message) {
    std::fprintf(stderr, "http_server: %s\n%.*s", message.c_str(), static_cast<int>(usage.size()),
                 usage.data());
    std::exit(2);
}

std::uint64_t parse_number(std::string_view flag, std::string_view text, std::uint64_t max) {
    const std::string s(text);
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (s.empty() || s[0] == '-' || *end != '\0' || errno != 0 || v > max) {
        fail_usage("bad value '" + s + "' for " + std::string(flag));
    }
    return v;
}

options parse_options(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        auto value = [&]() -> std::string_view {
            if (i + 1 >= argc) fail_usage(std::string(arg) + " needs a value");
            return argv[++i];
        };
        auto millis = [&]() {
            return std::chrono::milliseconds(parse_number(arg, value(), 24ull * 3600 * 1000));
        };
        if (arg == "--help" || arg == "-h") {
            std::fwrite(usage.data(), 1, usage.size(), stdout);
            std::exit(0);
        } else if (arg == "--verbose" || arg == "-v") {
            o.verbose = true;
        } else if (arg == "--offload") {
            o.offload = true;
        } else if (arg == "--pool-nice") {
            o.pool_nice = static_cast<int>(parse_number(arg, value(), 19));
        } else if (arg == "--threads") {
            o.threads = static_cast<std::size_t>(parse_number(arg, value(), 1024));
            if (o.threads == 0) fail_usage("--threads must be at least 1");
        } else if (arg == "--port") {
            o.port = static_cast<std::uint16_t>(parse_number(arg, value(), 65535));
        } else if (arg == "--bind") {
            o.bind = value();
        } else if (arg == "--root") {
            o.root = value();
        } else if (arg == "--backend") {
            const auto name = value();
            o.backend = coil::parse_backend_kind(name);
            if (!o.backend) fail_usage("unknown backend '" + std::string(name) + "'");
        } else if (arg == "--header-timeout") {
            o.server.header_timeout = millis();
        } else if (arg == "--keepalive-timeout") {
            o.server.keepalive_timeout = millis();
        } else if (arg == "--body-timeout") {
            o.server.body_timeout = millis();
        } else if (arg == "--send-timeout") {
            o.server.send_timeout = millis();
        } else if (arg == "--grace") {
            o.grace = millis();
        } else if (arg == "--keepalive-requests") {
            o.server.keepalive_requests = parse_number(arg, value(), 1ull << 40);
            if (o.server.keepalive_requests == 0) fail_usage("--keepalive-requests must be at least 1");
        } else if (arg == "--max-body") {
            o.server.limits.max_body = parse_number(arg, value(), 1ull << 40);
        } else if (arg == "--max-request-line") {
            o.server.limits.max_request_line = parse_number(arg, value(), 1 << 20);
        } else if (arg == "--max-header") {
            o.server.limits.max_header_block = parse_number(arg, value(), 1 << 20);
        } else {
            fail_usage("unknown argument '" + std::string(arg) + "'");
        }
    }
    if (o.pool_nice && !o.offload) fail_usage("--pool-nice needs --offload");
    return o;
}

// With --offload: the app's pool, one thread per core. False (said on stderr) if it cannot start,
// e.g. a --pool-nice below the server's own without the privilege to lower it.
bool start_pool(const options& o, std::optional<coil::thread_pool>& pool) {
    if (!o.offload) return true;
    try {
        pool.emplace(coil::pool_options{.nice = o.pool_nice});
    } catch (const std::system_error& e) {
        std::fprintf(stderr, "http_server: cannot start the thread pool: %s\n", e.what());
        return false;
    }
    return true;
}

// Raises the fd limit so that thousands of connections fit; the hard limit is the ceiling.
void raise_fd_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

coil::task<void> stop_on_signal(coil::signal_set& signals, coil::http::server& server,
                                std::chrono::milliseconds grace) {
    auto signo = co_await signals.wait();
    if (!signo) co_return;  // cancelled: the server ended by itself
    std::fprintf(stderr, "http_server: %s, stopping\n", strsignal(*signo));
    server.stop(grace);
}

// Every route; nullopt (said on stderr) if --root cannot be served.
std::optional<coil::http::router> all_routes(const options& o, coil::thread_pool* pool) {
    coil::http::router routes = make_routes();
    routes.add("GET", "/cpu", [pool](request& req, response& res) { return cpu(req, res, pool); });
    if (!o.root.empty()) {
        try {
            coil::http::add_static_files(routes, "/static/", o.root);
        } catch (const std::system_error& e) {
            std::fprintf(stderr, "http_server: --root: %s\n", e.what());
            return std::nullopt;
        }
    }
    return routes;
}

coil::task<int> run_server(const options& o, coil::signal_set& signals) {
    auto endpoint = coil::ip_endpoint::from_address(o.bind, o.port);
    if (!endpoint) {
        std::fprintf(stderr, "http_server: '%s' is not an IP address\n", o.bind.c_str());
        co_return 2;
    }
    auto listener = coil::tcp_listener::bind(*endpoint);
    if (!listener) {
        std::fprintf(stderr, "http_server: cannot listen on %s: %s\n", endpoint->to_string().c_str(),
                     listener.error().message().c_str());
        co_return 1;
    }
    // The app's own pool (one thread per core), not the default one: it is stopped and joined
    // here, before main returns, while libcrypto can still free its per-thread state.
    std::optional<coil::thread_pool> pool;
    if (!start_pool(o, pool)) co_return 1;
    auto routes = all_routes(o, pool ? &*pool : nullptr);
    if (!routes) co_return 2;
    coil::http::server server(*routes, o.server);
    std::printf("listening on %s\n", listener->local_endpoint().to_string().c_str());
    std::fflush(stdout);
    // serve() returns once stop() has drained the connections; the signal waiter is then done.
    (void)co_await coil::when_all(server.serve(*listener), stop_on_signal(signals, server, o.grace));
    co_return 0;
}

// ---- --threads N: one loop per thread (coil::loop_group), each with its own listener, router
// and server; only the --offload pool is shared. Why SO_REUSEPORT listeners rather than one
// acceptor handing connections out: docs/threading.md (no cross-thread wake per connection).

struct group_state : loop_listeners {
    group_state(const options& opts, const coil::ip_endpoint& ep) : loop_listeners(opts.threads, ep, opts.bind), o(opts) {}
    const options& o;
    coil::thread_pool* pool = nullptr;
};

// The group's stop request cancels this; the server then stops gracefully (serve() is shielded
// from the cancellation, so requests in progress get their --grace).
coil::task<void> stop_when_cancelled(coil::http::server& server, std::chrono::milliseconds grace) {
    coil::event never;
    auto woke = co_await never.wait();
    if (!woke) server.stop(grace);
}

coil::task<void> serve_loop(group_state& st, std::size_t index) {
    set_on_exit guard{st.ended};
    auto listener = co_await st.bind(index);
    if (!listener) co_return;
    // A router and a server belong to their loop's thread (http/server.hpp): one each per loop.
    auto routes = all_routes(st.o, st.pool);
    if (!routes) throw std::runtime_error("cannot serve --root");
    coil::http::server server(*routes, st.o.server);
    const bool serving = co_await st.ready(index, *listener);
    if (!serving) co_return;
    (void)co_await coil::when_all(coil::shield(server.serve(*listener)), stop_when_cancelled(server, st.o.grace));
    st.accepted[index] = server.connections_accepted();
}

coil::task<void> wait_for_end(coil::event& ended) { (void)co_await ended.wait(); }

coil::task<void> until_signal(coil::signal_set& signals) {
    auto signo = co_await signals.wait();
    if (signo) std::fprintf(stderr, "http_server: %s, stopping\n", strsignal(*signo));
}

coil::task<void> until_signal_or_end(coil::signal_set& signals, coil::event& ended) {
    (void)co_await coil::when_any(until_signal(signals), wait_for_end(ended));
}

int run_threads(const options& o) {
    auto endpoint = coil::ip_endpoint::from_address(o.bind, o.port);
    if (!endpoint) {
        std::fprintf(stderr, "http_server: '%s' is not an IP address\n", o.bind.c_str());
        return 2;
    }
    // This thread waits for the signals; the set blocks them here before the loop threads start,
    // so they inherit the mask and a SIGTERM reaches the set (signal_set.hpp).
    coil::event_loop main_loop(coil::loop_options{o.backend});
    coil::signal_set signals({SIGINT, SIGTERM});
    std::optional<coil::thread_pool> pool;  // shared by the loops; outlives the group
    if (!start_pool(o, pool)) return 1;
    group_state st(o, *endpoint);
    st.pool = pool ? &*pool : nullptr;
    coil::loop_group_options go;
    go.threads = o.threads;
    go.loop.backend = o.backend;
    coil::loop_group group(go, [&st](std::size_t i) { return serve_loop(st, i); });
    main_loop.run(until_signal_or_end(signals, st.ended));
    group.request_stop();
    try {
        group.join();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "http_server: %s\n", e.what());
        return 1;
    }
    for (std::size_t i = 0; i < st.accepted.size(); ++i) {
        std::printf("loop %zu accepted %zu connections\n", i, st.accepted[i]);
    }
    std::fflush(stdout);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const options o = parse_options(argc, argv);
    // Before any thread or signal_set: a stop signal must never get its default action (blocked_signals.hpp).
    block_signals_for_the_process({SIGINT, SIGTERM});
    std::signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    // coil logs only warnings by default; --verbose adds the one-line backend report.
    if (o.verbose) coil::set_log_level(coil::log_level::info);
    try {
        if (o.threads > 1) return run_threads(o);
        coil::event_loop loop(coil::loop_options{o.backend});
        coil::signal_set signals({SIGINT, SIGTERM});
        return loop.run(run_server(o, signals));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "http_server: %s\n", e.what());
        return 1;
    }
}
