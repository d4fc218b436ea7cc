// udp_echo: a UDP echo server, and its client in the same program (--client).
//
// Shows: coil::udp_socket. The server binds, answers every datagram to its sender with
// recv_from/send_to (one socket serves every peer: there are no connections), drops a datagram
// too large for its buffer (datagram_info::truncated) instead of echoing half of it, and stops
// on SIGINT/SIGTERM (coil::signal_set, when_any cancels the pending recv_from). The client
// connects its socket (send/recv without addresses), sends one datagram and waits for the echo
// with a deadline: UDP loses datagrams, so a reply may never come.
// Try it:  build/examples/udp_echo --port 7001        then, in another shell,
//          build/examples/udp_echo --client --port 7001 --message hi     (or: nc -u 127.0.0.1 7001)
// Flags:   --port N (server: default 0, the kernel picks; "listening on ADDR:PORT" says which),
//          --client, --message TEXT (default "hello"), --timeout MS (client's wait for the echo,
//          default 1000), --help. Server: exit 0 after a signal. Client: prints the echo, exit 0;
//          exit 1 if it does not come in time.

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <span>
#include <string>
#include <system_error>

#include <coil/coil.hpp>

#include "args.hpp"

namespace {

constexpr std::string_view usage =
    "usage: udp_echo [--port N] [--client [--message TEXT] [--timeout MS]] [--help]\n"
    "  --port N        server: port on 127.0.0.1 (default 0: the kernel picks one);\n"
    "                  client: the server's port\n"
    "  --client        send --message to 127.0.0.1:PORT and print the echo\n"
    "  --message TEXT  what the client sends (default: hello)\n"
    "  --timeout MS    how long the client waits for the echo (default 1000)\n"
    "Server: prints 'listening on ADDR:PORT', echoes every datagram to its sender, exits 0 on\n"
    "SIGINT/SIGTERM. Client: prints the echo and exits 0, or exits 1 if none comes in time.\n";

coil::task<void> echo_loop(const coil::udp_socket& socket) {
    std::array<std::byte, 65536> buf;  // the largest UDP payload fits: nothing is truncated
    for (;;) {
        auto got = co_await socket.recv_from(buf);
        if (!got) {
            if (got.error() == std::errc::operation_canceled) co_return;  // shutting down
            continue;  // e.g. connection_refused from an ICMP error: keep serving the others
        }
        if (got->truncated) continue;  // not the sender's message: drop it, do not echo a piece
        auto sent = co_await socket.send_to(std::span(buf).first(got->size), got->sender);
        if (!sent) {
            std::fprintf(stderr, "udp_echo: reply to %s: %s\n", got->sender.to_string().c_str(),
                         sent.error().message().c_str());
        }
    }
}

coil::task<void> until_signal(coil::signal_set& signals) { (void)co_await signals.wait(); }

coil::task<int> serve(std::uint16_t port, coil::signal_set& signals) {
    auto socket = coil::udp_socket::bind(coil::ip_endpoint::loopback_v4(port));
    if (!socket) {
        std::fprintf(stderr, "udp_echo: cannot bind: %s\n", socket.error().message().c_str());
        co_return 1;
    }
    std::printf("listening on %s\n", socket->local_endpoint().value().to_string().c_str());
    std::fflush(stdout);
    // The first to finish wins and the other is cancelled: a signal ends the echo loop.
    (void)co_await coil::when_any(echo_loop(*socket), until_signal(signals));
    co_return 0;
}

coil::task<int> client(std::uint16_t port, std::string message, std::chrono::milliseconds timeout) {
    const auto server = coil::ip_endpoint::loopback_v4(port);
    auto socket = coil::udp_socket::bind(coil::ip_endpoint::loopback_v4(0));
    if (!socket) {
        std::fprintf(stderr, "udp_echo: cannot bind: %s\n", socket.error().message().c_str());
        co_return 1;
    }
    // Connected: datagrams from anyone but the server are dropped by the kernel.
    if (auto connected = socket->connect(server); !connected) {
        std::fprintf(stderr, "udp_echo: connect: %s\n", connected.error().message().c_str());
        co_return 1;
    }
    auto sent = co_await socket->send(std::as_bytes(std::span(message)));
    if (!sent) {
        std::fprintf(stderr, "udp_echo: send: %s\n", sent.error().message().c_str());
        co_return 1;
    }
    std::array<std::byte, 65536> buf;
    auto got = co_await coil::with_timeout(socket->recv(buf), timeout);
    if (!got) {
        // timed_out ("deadline expired"), or connection_refused when nothing listens there.
        std::fprintf(stderr, "udp_echo: reply: %s\n", got.error().message().c_str());
        co_return 1;
    }
    std::printf("%.*s\n", static_cast<int>(got->size), reinterpret_cast<const char*>(buf.data()));
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const examples::args args{argc, argv, "udp_echo", usage};
    std::uint16_t port = 0;
    bool is_client = false;
    std::string message = "hello";
    long timeout_ms = 1000;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") args.help();
        else if (arg == "--port") port = static_cast<std::uint16_t>(args.number(i, 0, 65535));
        else if (arg == "--client") is_client = true;
        else if (arg == "--message") message = std::string(args.value(i));
        else if (arg == "--timeout") timeout_ms = args.number(i, 1, 3'600'000);
        else args.fail("unknown argument '" + std::string(arg) + "'");
    }
    coil::event_loop loop;
    if (is_client) {
        if (port == 0) args.fail("--client needs --port (the server's)");
        return loop.run(client(port, std::move(message), std::chrono::milliseconds(timeout_ms)));
    }
    coil::signal_set signals({SIGINT, SIGTERM});
    return loop.run(serve(port, signals));
}
