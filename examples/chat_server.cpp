// chat_server: a line-based TCP chat. Each line a client sends goes to every other client.
//
// Shows: straight-line coroutines on coil's building blocks, with no plumbing of their own:
// - coil::buffered_reader::read_line(max) splits the input; an over-long line (errc::line_too_long)
//   is skipped with a note to its sender: the memory per client stays bounded by max;
// - many tasks write to one client: each delivery is its own task calling send_all, and the
//   stream's ordered send_all keeps every message whole and in order (no outbox, no flusher);
// - a slow client is bounded: each delivery has a deadline (coil::with_timeout; it counts the
//   wait for the stream's turn too, so a backlog longer than the deadline drops even a client
//   that reads: a flood from one talker is the room's problem); a client whose
//   send times out is dropped (its stream is closed, which also ends its reader); and so is a
//   client with --backlog deliveries already waiting (the deadline alone bounds the time, not
//   the memory: a fast talker can queue lines for a client that never reads far quicker than
//   any deadline expires; the count is of lines not yet handed to the kernel, so a burst of
//   more than N lines to one client, a crowd joining at once for instance, drops a client that
//   reads as well: size --backlog to the room);
// - shutdown on SIGINT/SIGTERM: the accept loop and every reader are cancelled, and each client
//   still gets a goodbye line, sent under coil::shield with its own deadline (docs/shutdown.md);
//   but a client whose delivery the shutdown cut off mid-line is dropped instead: the goodbye
//   would run into the half-sent line (send_all cannot unsend it; net/stream_socket.hpp).
// Try it:  build/examples/chat_server --port 7000        then, in two or more shells,
//          nc 127.0.0.1 7000        (type lines; the others see them as "guestN: line")
// Flags:   --port N (default 0: the kernel picks; "listening on ADDR:PORT" says which),
//          --deadline MS (per delivery; default 5000), --backlog N (deliveries waiting per
//          client; default 256), --help.
//          Exit 0 after a signal.

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <system_error>

#include <coil/coil.hpp>

#include "args.hpp"

using namespace std::chrono_literals;

namespace {

constexpr std::string_view usage =
    "usage: chat_server [--port N] [--deadline MS] [--backlog N] [--help]\n"
    "  --port N       port on 127.0.0.1 (default 0: the kernel picks one)\n"
    "  --deadline MS  a client that takes longer to take a line is dropped (default 5000)\n"
    "  --backlog N    a client with N lines still waiting for it is dropped (default 256)\n"
    "Prints 'listening on ADDR:PORT'; each line a client sends goes to every other client.\n"
    "Exits 0 on SIGINT/SIGTERM.\n";

constexpr std::size_t max_line = 1024;      // bytes, with the line end
std::chrono::milliseconds delivery_deadline = 5s;  // a client that takes longer to take a line is dropped
long max_backlog = 256;  // deliveries waiting for one client (each holds a frame and its line)

struct client {
    coil::tcp_stream stream;
    std::string name;
    long backlog = 0;  // deliveries spawned for it and not finished
};
// Shared: a delivery in flight keeps its client's stream alive after the client has left.
using client_ptr = std::shared_ptr<client>;

struct room {
    std::set<client_ptr> clients;
    coil::task_group& deliveries;
    int joined = 0;
};

using text_ptr = std::shared_ptr<const std::string>;  // one copy of a line for all its deliveries
text_ptr text(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

coil::task<void> deliver(client_ptr to, text_ptr line) {
    struct done_guard {
        client& c;
        ~done_guard() { --c.backlog; }
    } done{*to};
    auto sent = co_await coil::with_timeout(to->stream.send_all(std::as_bytes(std::span(*line))), delivery_deadline);
    // Too slow: drop the client (closing also ends its reader). A line cut short (shutdown
    // cancelled it mid-send) would run into whatever is sent next, the goodbye included: drop
    // the client too. Other errors (the client left, or shutdown cancelled a delivery that had
    // sent nothing) are its reader's business.
    if (!sent && (sent.error() == coil::errc::timed_out || sent.transferred() > 0)) to->stream.close();
}

// Queues `line` for `to`, or drops `to` if too many lines wait for it already.
void post(room& r, const client_ptr& to, text_ptr line) {
    if (!to->stream.is_open()) return;  // dropped already
    if (to->backlog >= max_backlog) {
        to->stream.close();  // cancels its deliveries and ends its reader
        return;
    }
    ++to->backlog;
    r.deliveries.spawn(deliver(to, std::move(line)));
}

void broadcast(room& r, const client* from, std::string s) {
    const text_ptr line = text(std::move(s));
    for (const client_ptr& c : r.clients) {
        if (c.get() != from) post(r, c, line);
    }
}

coil::task<void> serve(room& r, coil::tcp_stream conn) {
    auto me = std::make_shared<client>(client{std::move(conn), "guest" + std::to_string(++r.joined)});
    r.clients.insert(me);
    broadcast(r, me.get(), "* " + me->name + " joined\n");
    post(r, me, text("welcome, you are " + me->name + "\n"));
    coil::buffered_reader reader(me->stream);
    bool skipping = false;  // in the rest of an over-long line
    for (;;) {
        auto line = co_await reader.read_line(max_line);
        if (line) {
            if (!skipping) broadcast(r, me.get(), me->name + ": " + std::string(*line) + "\n");
            skipping = false;
        } else if (line.error() == coil::errc::line_too_long) {
            // Skip it (memory stays bounded by max_line): drop what is buffered up to its end.
            if (!skipping) post(r, me, text("line too long, skipped\n"));
            const auto buffered = reader.buffered();
            const auto end = std::find(buffered.begin(), buffered.end(), std::byte{'\n'});
            skipping = end == buffered.end();  // its end is yet to come
            reader.consume(static_cast<std::size_t>(end - buffered.begin()) + (skipping ? 0 : 1));
        } else {
            if (line.error() == std::errc::operation_canceled) {
                // Shutdown (or dropped as too slow: then this fails at once). A goodbye the
                // shutdown must not cut short, bounded by deliver's own deadline.
                ++me->backlog;  // as post() counts; deliver counts it down
                (void)co_await coil::shield(deliver(me, text("server stopping, bye\n")));
            }
            break;
        }
    }
    r.clients.erase(me);
    me->stream.close();
    broadcast(r, nullptr, "* " + me->name + " left\n");
}

coil::task<void> accept_loop(coil::tcp_listener& listener) {
    // Children follow this task's cancel token: cancelling accept_loop cancels them too.
    coil::task_group deliveries(co_await coil::current_cancel_token());
    coil::task_group clients(co_await coil::current_cancel_token());
    room r{{}, deliveries};
    for (;;) {
        auto conn = co_await listener.accept();
        if (conn) clients.spawn(serve(r, std::move(*conn)));
        else if (conn.error() == std::errc::operation_canceled) break;
        else co_await coil::sleep_for(100ms);  // e.g. out of fds: back off, then keep serving
    }
    co_await clients.join();
    co_await deliveries.join();
}

coil::task<void> until_signal(coil::signal_set& signals) { (void)co_await signals.wait(); }

coil::task<int> run_server(std::uint16_t port, coil::signal_set& signals) {
    auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(port));
    if (!listener) {
        std::fprintf(stderr, "chat_server: cannot listen: %s\n", listener.error().message().c_str());
        co_return 1;
    }
    std::printf("listening on %s\n", listener->local_endpoint().to_string().c_str());
    std::fflush(stdout);
    (void)co_await coil::when_any(accept_loop(*listener), until_signal(signals));
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const examples::args args{argc, argv, "chat_server", usage};
    std::uint16_t port = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") args.help();
        else if (arg == "--port") port = static_cast<std::uint16_t>(args.number(i, 0, 65535));
        else if (arg == "--deadline") delivery_deadline = std::chrono::milliseconds(args.number(i, 1, 3600000));
        else if (arg == "--backlog") max_backlog = args.number(i, 1, 1000000);
        else args.fail("unknown argument '" + std::string(arg) + "'");
    }
    std::signal(SIGPIPE, SIG_IGN);
    coil::event_loop loop;
    coil::signal_set signals({SIGINT, SIGTERM});
    return loop.run(run_server(port, signals));
}
