// echo: the smallest complete coil server. Every connection gets back what it sends.
//
// Shows: binding a listener, an accept loop that spawns one coroutine per connection into a
// task_group, and a graceful stop: SIGINT/SIGTERM (through coil::signal_set) cancels the accept
// loop, the cancellation reaches every connection's pending recv, and join() waits for them all.
// (apps/echo_server.cpp is the full version: backend choice, accept back-off, fd limits.)
// Try it:  build/examples/echo --port 7000        then, in another shell,
//          build/examples/tcp_client --port 7000 --message hi     (or: nc 127.0.0.1 7000)
// Flags:   --port N (default 0: the kernel picks; "listening on ADDR:PORT" says which),
//          --verbose (coil's info log: the backend chosen), --help. Exit 0 after a signal.

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <span>
#include <system_error>

#include <coil/coil.hpp>

#include "args.hpp"

using namespace std::chrono_literals;

namespace {

constexpr std::string_view usage =
    "usage: echo [--port N] [--verbose] [--help]\n"
    "  --port N    port on 127.0.0.1 (default 0: the kernel picks one)\n"
    "  --verbose   log which backend coil chose and why\n"
    "Prints 'listening on ADDR:PORT', echoes every byte back, exits 0 on SIGINT/SIGTERM.\n";

coil::task<void> echo(coil::tcp_stream conn) {
    std::array<std::byte, 4096> buf;
    for (;;) {
        auto n = co_await conn.recv(buf);
        if (!n) co_return;  // eof, an error, or operation_canceled while shutting down
        auto sent = co_await conn.send_all(std::span(buf).first(*n));
        if (!sent) co_return;
    }
}

coil::task<void> accept_loop(coil::tcp_listener& listener) {
    // Children follow this task's cancel token: cancelling accept_loop cancels them too.
    coil::task_group connections(co_await coil::current_cancel_token());
    for (;;) {
        auto conn = co_await listener.accept();
        if (conn) {
            connections.spawn(echo(std::move(*conn)));
        } else if (conn.error() == std::errc::operation_canceled) {
            break;
        } else {
            co_await coil::sleep_for(100ms);  // e.g. out of fds: back off, then keep serving
        }
    }
    co_await connections.join();
}

coil::task<void> until_signal(coil::signal_set& signals) { (void)co_await signals.wait(); }

coil::task<int> serve(std::uint16_t port, coil::signal_set& signals) {
    auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(port));
    if (!listener) {
        std::fprintf(stderr, "echo: cannot listen: %s\n", listener.error().message().c_str());
        co_return 1;
    }
    std::printf("listening on %s\n", listener->local_endpoint().to_string().c_str());
    std::fflush(stdout);
    // The first to finish wins and the other is cancelled: a signal ends the accept loop.
    (void)co_await coil::when_any(accept_loop(*listener), until_signal(signals));
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const examples::args args{argc, argv, "echo", usage};
    std::uint16_t port = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") args.help();
        else if (arg == "--port") port = static_cast<std::uint16_t>(args.number(i, 0, 65535));
        else if (arg == "--verbose") coil::set_log_level(coil::log_level::info);
        else args.fail("unknown argument '" + std::string(arg) + "'");
    }
    std::signal(SIGPIPE, SIG_IGN);  // coil's sends never raise it; other code in a program might
    coil::event_loop loop;
    coil::signal_set signals({SIGINT, SIGTERM});
    return loop.run(serve(port, signals));
}
