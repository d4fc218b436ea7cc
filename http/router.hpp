#pragma once
// coil::http::router: method + path -> handler.
//
//     coil::http::router r;
//     r.add("GET", "/", [](coil::http::request&, coil::http::response& res) {
//         res.set_body("Hello, World!");
//     });
//     r.add("POST", "/upload", [](request& req, response& res) -> coil::task<void> { ... });
//
// Handlers: a synchronous one, void(request&, response&), runs inline in the connection's parse
// loop: it costs one indirect call and no allocation, so use it whenever the answer needs no I/O.
// An asynchronous one, task<void>(request&, response&), may co_await (read a streamed body,
// write a chunked body, call other services); its coroutine frame is allocated per request
// (measured: about 0.06 us more per request than a synchronous handler, on a path of about
// 0.5 us of user time; see docs/http-server.md).
// An exception escaping a handler is answered with 500 and the connection closes.
//
// Matching: the path is compared as received (no percent-decoding), exactly, or as a prefix for
// a pattern ending in '*' ("/static/*" matches "/static/a/b"). The first route added that matches
// wins. A path that matches no route gets 404; a path that matches only routes of other methods
// gets 405 with an Allow field listing them (RFC 9110 §15.5.6). HEAD falls back to the GET route
// (the server drops the body).
// Threading: build the router before serving; then it is only read.

#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "coil/http/request.hpp"
#include "coil/http/response.hpp"
#include "coil/runtime/task.hpp"

namespace coil::http {

/// How a route receives a request body.
enum class body_mode : std::uint8_t {
    whole,   // read whole (up to limits.max_body) before the handler runs: request::body()
    stream,  // the (async) handler reads it with request::read_body()
};

struct route {
    std::string method;
    std::string path;  // without the trailing '*' of a prefix pattern
    bool prefix = false;
    body_mode body = body_mode::whole;
    std::function<void(request&, response&)> sync;
    std::function<task<void>(request&, response&)> async;
};

class router {
public:
    /// Adds a route. `handler` returns void (synchronous) or task<void> (asynchronous).
    /// Throws std::invalid_argument for an empty method or a path not starting with '/'.
    template <class Handler>
    router& add(std::string_view method, std::string_view path, Handler&& handler,
                body_mode body = body_mode::whole) {
        route r = make_route(method, path, body);
        using R = std::invoke_result_t<Handler&, request&, response&>;
        if constexpr (std::is_void_v<R>) {
            r.sync = std::forward<Handler>(handler);
        } else {
            static_assert(std::is_same_v<R, task<void>>, "a handler returns void or coil::task<void>");
            r.async = std::forward<Handler>(handler);
        }
        routes_.push_back(std::move(r));
        return *this;
    }

    /// The route for `method` and `path`, or null. When null, `allow` says whether the path
    /// matched routes of other methods (405) or none (404), and lists the methods that match.
    struct lookup {
        const route* found = nullptr;
        bool path_known = false;
    };
    [[nodiscard]] lookup find(std::string_view method, std::string_view path) const noexcept;
    /// Appends "GET, HEAD, POST" (the methods that have a route for `path`) to `out`.
    void allowed_methods(std::string_view path, std::string& out) const;

    [[nodiscard]] const std::vector<route>& routes() const noexcept { return routes_; }

private:
    static route make_route(std::string_view method, std::string_view path, body_mode body);
    static bool matches(const route& r, std::string_view path) noexcept {
        return r.prefix ? path.substr(0, r.path.size()) == r.path : path == r.path;
    }

    std::vector<route> routes_;
};

}  // namespace coil::http
