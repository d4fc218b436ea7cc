// tcp_client: connects, sends a message, prints the reply; each step has a deadline.
//
// Shows: tcp_connect with a connect timeout, with_timeout around the reply, and that a deadline
// arrives as an error code in the result (std::errc::timed_out), not as an exception: every
// failure is one `if (!x)` and a message.
// Try it:  build/examples/echo --port 7000        then, in another shell,
//          build/examples/tcp_client --port 7000 --message hello
// Flags:   --host ADDR (default 127.0.0.1), --port N (required), --message TEXT (default hello),
//          --connect-timeout MS, --reply-timeout MS (default 2000 each), --verbose, --help.
// Exit:    0 the reply was printed; 1 connect, send or reply failed (why, on stderr); 2 usage.

#include <chrono>
#include <cstdio>
#include <span>
#include <string>
#include <system_error>

#include <coil/coil.hpp>

#include "args.hpp"

namespace {

constexpr std::string_view usage =
    "usage: tcp_client --port N [--host ADDR] [--message TEXT] [--connect-timeout MS]\n"
    "                  [--reply-timeout MS] [--verbose] [--help]\n"
    "Connects to ADDR:N, sends TEXT, and prints the reply: as many bytes as it sent (an echo).\n"
    "  --host ADDR           IPv4 or IPv6 address (default 127.0.0.1)\n"
    "  --message TEXT        what to send (default 'hello')\n"
    "  --connect-timeout MS  deadline for the TCP handshake (default 2000)\n"
    "  --reply-timeout MS    deadline for the whole reply (default 2000)\n"
    "  --verbose             log which backend coil chose and why\n"
    "Exit 0 on a reply; 1 if connect, send or reply failed; 2 on bad usage.\n";

struct options {
    std::string host = "127.0.0.1";
    long port = -1;
    std::string message = "hello";
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds reply_timeout{2000};
};

coil::task<int> request(const options& o) {
    auto endpoint = coil::ip_endpoint::from_address(o.host, static_cast<std::uint16_t>(o.port));
    if (!endpoint) {
        std::fprintf(stderr, "tcp_client: '%s' is not an IP address\n", o.host.c_str());
        co_return 2;
    }
    auto stream = co_await coil::tcp_connect(*endpoint, o.connect_timeout);
    if (!stream) {  // timed_out, connection_refused, network_unreachable, ...
        std::fprintf(stderr, "tcp_client: connect to %s: %s\n", endpoint->to_string().c_str(),
                     stream.error().message().c_str());
        co_return 1;
    }
    auto sent = co_await stream->send_all(std::as_bytes(std::span(o.message)));
    if (!sent) {
        std::fprintf(stderr, "tcp_client: send: %s\n", sent.error().message().c_str());
        co_return 1;
    }
    // recv_exact waits for all of it; with_timeout cancels it at the deadline (timed_out).
    std::string reply(o.message.size(), '\0');
    auto got = co_await coil::with_timeout(stream->recv_exact(std::as_writable_bytes(std::span(reply))),
                                           o.reply_timeout);
    if (!got) {  // timed_out, coil::errc::eof (the server closed first), connection_reset, ...
        std::fprintf(stderr, "tcp_client: reply: %s\n", got.error().message().c_str());
        co_return 1;
    }
    std::printf("%s\n", reply.c_str());
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const examples::args args{argc, argv, "tcp_client", usage};
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") args.help();
        else if (arg == "--host") o.host = args.value(i);
        else if (arg == "--port") o.port = args.number(i, 1, 65535);
        else if (arg == "--message") o.message = args.value(i);
        else if (arg == "--connect-timeout") o.connect_timeout = std::chrono::milliseconds(args.number(i, 1, 3'600'000));
        else if (arg == "--reply-timeout") o.reply_timeout = std::chrono::milliseconds(args.number(i, 1, 3'600'000));
        else if (arg == "--verbose") coil::set_log_level(coil::log_level::info);
        else args.fail("unknown argument '" + std::string(arg) + "'");
    }
    if (o.port < 0) args.fail("--port is required");
    if (o.message.empty()) args.fail("--message must not be empty");
    return coil::run(request(o));
}
