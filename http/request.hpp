#pragma once
// coil::http::request: what a handler sees of one request. Views only: nothing is copied.
//
// Lifetime: the request and every string_view it hands out are valid until the handler returns
// (for an async handler: until its task finishes). They point into the connection's buffer.
// Threading: the connection's loop thread only.

#include <cstdint>
#include <span>
#include <string_view>

#include "coil/http/parser/request_parser.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"

namespace coil::http {

namespace detail {
class connection;
}

class request {
public:
    /// The method token as received, e.g. "GET" (case-sensitive, RFC 9110 §9.1).
    [[nodiscard]] std::string_view method() const noexcept { return head_->method; }
    /// The request-target as received (percent-encoding kept).
    [[nodiscard]] std::string_view target() const noexcept { return head_->target; }
    /// The target's path: for origin-form and absolute-form targets, the part before '?'
    /// ("/" when an absolute-form target has none); the whole target for the other forms.
    [[nodiscard]] std::string_view path() const noexcept { return path_; }
    /// The target's query, without the '?' (empty if none).
    [[nodiscard]] std::string_view query() const noexcept { return query_; }
    /// 1 for HTTP/1.1, 0 for HTTP/1.0.
    [[nodiscard]] unsigned version_minor() const noexcept { return head_->version_minor; }
    /// The field lines in order received.
    [[nodiscard]] std::span<const header_field> fields() const noexcept { return head_->fields; }
    /// The value of the first field named `name` (case-insensitive); empty with a null data()
    /// when absent.
    [[nodiscard]] std::string_view field(std::string_view name) const noexcept { return head_->field(name); }
    /// The parsed head (framing, host, keep-alive...).
    [[nodiscard]] const request_head& head() const noexcept { return *head_; }
    /// Whether the request has a body (Content-Length or chunked), possibly empty.
    [[nodiscard]] bool has_body() const noexcept { return head_->framing != body_framing::none; }

    /// The whole body (decoded when chunked), for routes that read bodies whole (the default,
    /// bounded by server_options::limits.max_body: over it the server answers 413 itself).
    /// Empty for streaming routes.
    [[nodiscard]] std::string_view body() const noexcept { return body_; }

    /// For routes registered with body_mode::stream: the next piece of the body (decoded when
    /// chunked), an empty view once it has all been read, or an error (timed_out after
    /// server_options::body_timeout without a byte, errc::eof if the peer stopped sending,
    /// a protocol error as std::errc::bad_message). A piece is valid until the next call.
    /// Sends "100 Continue" first if the client asked for it. A body the handler leaves unread
    /// makes the connection close after the response.
    task<result<std::string_view>> read_body();

private:
    friend class detail::connection;
    const request_head* head_ = nullptr;
    std::string_view path_;
    std::string_view query_;
    std::string_view body_;
    detail::connection* conn_ = nullptr;
};

}  // namespace coil::http
