#pragma once
// coil::http::server: an HTTP/1.1 server (RFC 9110, RFC 9112) on coil's event loop and net/.
//
//     coil::http::router routes;
//     routes.add("GET", "/", [](coil::http::request&, coil::http::response& res) {
//         res.set_body("Hello, World!");
//     });
//     coil::http::server srv(routes);
//     co_await srv.serve(listener);     // until stop() (graceful) or cancellation (at once)
//
// Per connection: one coroutine, one input buffer and one output buffer, reused for every
// request. Each read is parsed for all the complete requests it holds; their responses are
// built into the output buffer and sent with one send once no complete request is left
// (pipelining, RFC 9112 §9.3.2). Keep-alive is the default on HTTP/1.1; HTTP/1.0 needs
// "Connection: keep-alive". "Connection: close" ends the connection after that response: later
// pipelined requests are not processed. "Expect: 100-continue" (HTTP/1.1) gets "100 Continue"
// just before the server starts waiting for the body. Every response has Date (formatted once
// a second) and Content-Length or chunked framing. A request the parser refuses is answered with
// status_of(error) and a one-line body, and the connection closes. Closing after unread input
// shuts down the write side first and discards what still arrives for a short while (lingering
// close), so the peer reads the last response instead of a reset.
// Timeouts (each ends the connection): see server_options. A request in a handler has none.
// No allocation per request on a warm keep-alive connection with a synchronous handler and a
// body that fits the buffers (tests/http/server_alloc_test.cpp checks it).
// Threading: a server, its router and its connections belong to the loop thread that runs serve().
// Errors in one connection (protocol, I/O, a handler's exception) never affect another.

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "coil/http/parser/limits.hpp"
#include "coil/http/router.hpp"
#include "coil/net/tcp_listener.hpp"
#include "coil/runtime/cancel.hpp"
#include "coil/runtime/task.hpp"

namespace coil::http {

namespace detail {
class connection;
}

struct server_options {
    /// From the first octet of a request to the end of its head (nginx client_header_timeout):
    /// a client that dribbles its head (slowloris) is closed when it passes, whatever it sends.
    /// Also the limit between accept and the first request's first octet.
    std::chrono::milliseconds header_timeout{60'000};
    /// How long a connection may wait for the next request (nginx keepalive_timeout).
    std::chrono::milliseconds keepalive_timeout{75'000};
    /// Between two reads of a request body (nginx client_body_timeout).
    std::chrono::milliseconds body_timeout{60'000};
    /// Between two sends that make progress (nginx send_timeout).
    std::chrono::milliseconds send_timeout{60'000};
    /// Requests per connection; the last one is answered with "Connection: close" (nginx
    /// keepalive_requests).
    std::size_t keepalive_requests = 1000;
    /// Head, body and chunk limits (413, 414, 431, 400); see parser_limits.
    parser_limits limits{};
    /// The input buffer's first size in octets; it grows for large heads and bodies.
    std::size_t initial_buffer = 16 * 1024;
    /// Lingering close: how long to discard input after the last response before closing.
    std::chrono::milliseconds linger_timeout{2'000};
};

class server {
public:
    /// `routes` must outlive the server and is not changed while it serves.
    explicit server(const router& routes, server_options options = {});
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Accepts and serves connections until stop() and the drain are done, then returns.
    /// Cancelling the task closes every connection at once. Accept errors (EMFILE...) are logged
    /// through coil's log hook and retried after 100 ms. One serve() at a time.
    task<void> serve(tcp_listener& listener);

    /// Graceful stop: stops accepting (serve() closes the listener), closes idle connections at once, lets requests in
    /// progress finish (their responses say "Connection: close"), and after `grace` closes
    /// whatever is left. serve() returns once every connection is gone. Loop thread only;
    /// calling it again only shortens the grace to the new one if earlier.
    void stop(std::chrono::milliseconds grace = std::chrono::milliseconds{10'000});

    /// Open connections (for tests and monitoring).
    [[nodiscard]] std::size_t connection_count() const noexcept { return connection_count_; }
    /// Connections accepted since the server was made (for monitoring; e.g. http_server's
    /// per-loop count with --threads).
    [[nodiscard]] std::size_t connections_accepted() const noexcept { return accepted_; }
    [[nodiscard]] const server_options& options() const noexcept { return options_; }
    [[nodiscard]] bool stopping() const noexcept { return stopping_; }

private:
    friend class detail::connection;
    task<void> serve_connection(tcp_stream stream);

    const router& routes_;
    server_options options_;
    bool stopping_ = false;
    std::chrono::steady_clock::time_point stop_deadline_{};
    std::size_t connection_count_ = 0;
    std::size_t accepted_ = 0;
    detail::connection* connections_ = nullptr;  // intrusive list, for stop()
    cancel_source* accept_scope_ = nullptr;       // while serve() accepts
    cancel_source* drain_scope_ = nullptr;        // the connections' scope while serve() runs
};

}  // namespace coil::http
