#pragma once
// Test kit for http/: runs a client coroutine against a coil::http::server on a loopback
// listener, on the current loop, then stops the server gracefully.

#include <chrono>
#include <cstdint>

#include "coil/http/server.hpp"
#include "coil/net/tcp_listener.hpp"
#include "coil/runtime/task.hpp"
#include "coil/runtime/when_all.hpp"

namespace coil::testing {

/// Runs `client(server&, port)` (a task<bool>) against a server for `routes`; true if the client
/// returned true and serve() ended with no connection left.
template <class Client>
task<bool> drive(const http::router& routes, http::server_options options, Client client) {
    auto listener = tcp_listener::bind(ip_endpoint::loopback_v4(0));
    if (!listener) co_return false;
    http::server srv(routes, options);
    const std::uint16_t port = listener->local_endpoint().port();
    auto body = [&]() -> task<bool> {
        const bool ok = co_await client(srv, port);
        srv.stop(std::chrono::seconds(1));
        co_return ok;
    };
    auto [served, ok] = co_await when_all(srv.serve(*listener), body());
    (void)served;
    co_return ok && srv.connection_count() == 0;
}

}  // namespace coil::testing
