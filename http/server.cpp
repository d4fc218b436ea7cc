#include "coil/http/server.hpp"

#include <string>

#include "coil/http/connection.hpp"
#include "coil/runtime/log.hpp"
#include "coil/runtime/sleep.hpp"
#include "coil/runtime/task_group.hpp"
#include "coil/runtime/with_timeout.hpp"

namespace coil::http {

using namespace std::chrono_literals;

server::server(const router& routes, server_options options) : routes_(routes), options_(options) {}

server::~server() = default;

task<void> server::serve_connection(tcp_stream stream) {
    const cancel_token parent = co_await current_cancel_token();
    detail::connection conn(*this, std::move(stream), parent);
    task<void> work = conn.run();
    work.set_cancel_token(conn.scope().token());
    // Nothing may escape: in a task_group, a child's exception cancels every other child, and
    // one connection's failure (say, bad_alloc while building a response) must not end others.
    try {
        co_await std::move(work);
    } catch (const std::exception& e) {
        log(log_level::error, std::string("coil::http: connection failed: ") + e.what());
    } catch (...) {
        log(log_level::error, "coil::http: connection failed");
    }
}

task<void> server::serve(tcp_listener& listener) {
    const cancel_token outer = co_await current_cancel_token();
    task_group connections(outer);
    cancel_source accepting(outer);
    accept_scope_ = &accepting;
    while (!stopping_) {
        auto accept = listener.accept();
        accept.set_cancel_token(accepting.token());
        auto conn = co_await std::move(accept);
        if (conn) {
            (void)conn->set_nodelay();
            ++accepted_;
            connections.spawn(serve_connection(std::move(*conn)));
            continue;
        }
        if (conn.error() == std::errc::operation_canceled) break;
        // EMFILE, ENFILE, ECONNABORTED...: back off and keep serving (tcp_listener.hpp).
        log(log_level::warning, "coil::http::server: accept failed: " + conn.error().message());
        auto pause = sleep_for(100ms);
        auto slept = co_await pause;
        (void)slept;
    }
    accept_scope_ = nullptr;
    // Graceful stop: close the listening socket, so that new clients are refused instead of
    // waiting in a backlog nobody accepts from.
    if (stopping_) listener.close();
    if (stopping_ && !outer.cancel_requested()) {
        // Let requests in progress finish until the grace deadline; then cancel what is left.
        const auto left = stop_deadline_ - std::chrono::steady_clock::now();
        auto joined = co_await with_timeout(connections.join(), std::max(left, std::chrono::steady_clock::duration::zero()));
        (void)joined;
    }
    co_await connections.join();
}

void server::stop(std::chrono::milliseconds grace) {
    if (stopping_) return;
    stopping_ = true;
    stop_deadline_ = std::chrono::steady_clock::now() + grace;
    if (accept_scope_) accept_scope_->request_cancel();
    for (detail::connection* c = connections_; c != nullptr;) {
        detail::connection* next = c->next_;
        if (c->idle()) c->scope().request_cancel();
        c = next;
    }
}

}  // namespace coil::http
