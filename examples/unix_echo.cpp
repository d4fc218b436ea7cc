// unix_echo: an echo server on a Unix domain socket. Every connection gets back what it sends.
//
// Shows: coil::unix_listener on a socket file or an abstract name, the stale-file rule (a socket
// file left by a server that died is replaced; a live server's is not), peer credentials
// (who connected: pid/uid/gid from the kernel), and the same graceful stop as echo.cpp:
// SIGINT/SIGTERM cancels the accept loop and every connection, and the listener removes its
// socket file when it closes.
// Try it:  build/examples/unix_echo --path /tmp/echo.sock       then, in another shell,
//          socat - UNIX-CONNECT:/tmp/echo.sock     (or: nc -U /tmp/echo.sock)
//          build/examples/unix_echo --abstract echo            then: socat - ABSTRACT-CONNECT:echo
// Flags:   --path P (a socket file), --abstract NAME (Linux abstract name; no file), --help.
//          Prints "listening on PATH" (or "@NAME"), one line per connection with the peer's
//          pid and uid; exit 0 after a signal.

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <system_error>

#include <coil/coil.hpp>

#include "args.hpp"

using namespace std::chrono_literals;

namespace {

constexpr std::string_view usage =
    "usage: unix_echo (--path P | --abstract NAME) [--help]\n"
    "  --path P         listen on the socket file P (a stale one is replaced; removed on exit)\n"
    "  --abstract NAME  listen on the Linux abstract name NAME (no file)\n"
    "Prints 'listening on P' (or '@NAME'), echoes every byte back, exits 0 on SIGINT/SIGTERM.\n";

coil::task<void> echo(coil::unix_stream conn) {
    std::array<std::byte, 4096> buf;
    for (;;) {
        auto n = co_await conn.recv(buf);
        if (!n) co_return;  // eof, an error, or operation_canceled while shutting down
        auto sent = co_await conn.send_all(std::span(buf).first(*n));
        if (!sent) co_return;
    }
}

coil::task<void> accept_loop(coil::unix_listener& listener) {
    // Children follow this task's cancel token: cancelling accept_loop cancels them too.
    coil::task_group connections(co_await coil::current_cancel_token());
    for (;;) {
        auto conn = co_await listener.accept();
        if (conn) {
            if (auto who = conn->peer_credentials()) {
                std::printf("connection from pid %d uid %u\n", static_cast<int>(who->pid),
                            static_cast<unsigned>(who->uid));
                std::fflush(stdout);
            }
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

coil::task<int> serve(coil::unix_endpoint endpoint, coil::signal_set& signals) {
    auto listener = coil::unix_listener::bind(endpoint);
    if (!listener) {
        std::fprintf(stderr, "unix_echo: cannot listen on %s: %s\n", endpoint.to_string().c_str(),
                     listener.error().message().c_str());
        co_return 1;
    }
    std::printf("listening on %s\n", listener->local_endpoint().to_string().c_str());
    std::fflush(stdout);
    (void)co_await coil::when_any(accept_loop(*listener), until_signal(signals));
    co_return 0;  // the listener closes here and removes its socket file
}

}  // namespace

int main(int argc, char** argv) {
    const examples::args args{argc, argv, "unix_echo", usage};
    std::optional<coil::unix_endpoint> endpoint;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") args.help();
        else if (arg == "--path") endpoint = coil::unix_endpoint(std::string(args.value(i)));
        else if (arg == "--abstract") endpoint = coil::unix_endpoint::abstract(args.value(i));
        else args.fail("unknown argument '" + std::string(arg) + "'");
    }
    if (!endpoint) args.fail("--path or --abstract is required");
    std::signal(SIGPIPE, SIG_IGN);  // coil's sends never raise it; other code in a program might
    coil::event_loop loop;
    coil::signal_set signals({SIGINT, SIGTERM});
    return loop.run(serve(*endpoint, signals));
}
