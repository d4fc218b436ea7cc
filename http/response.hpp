#pragma once
// coil::http::response: what a handler fills in. Its buffers belong to the connection and are
// reused from one request to the next, so a warm connection fills them without allocating.
//
// Framing is the server's job: it writes the status line, Date, Content-Length (or
// Transfer-Encoding: chunked for a streamed body) and Connection itself; a handler must not add
// those fields (add_header refuses them). HEAD responses carry the headers a GET would, no body.
// 204 and 304 responses never carry body octets or framing fields (RFC 9112 §6.3): whatever
// set_body, write or send_file gave is dropped.
// Lifetime: valid until the handler returns (async: until its task finishes).
// Threading: the connection's loop thread only.

#include <cstdint>
#include <string>
#include <string_view>

#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"

namespace coil::http {

namespace detail {
class connection;
}

/// The reason phrase of RFC 9110 §15 for `code` ("" for codes it does not name).
[[nodiscard]] std::string_view reason_phrase(std::uint16_t code) noexcept;

class response {
public:
    /// The status code (default 200) and reason phrase (default: reason_phrase(code)).
    /// Throws std::invalid_argument for a code outside 200..999 (1xx are the server's) or a
    /// reason with CR, LF or other control octets.
    void set_status(std::uint16_t code, std::string_view reason = {});
    [[nodiscard]] std::uint16_t status() const noexcept { return status_; }

    /// Adds a header field. Throws std::invalid_argument for a name that is not a token, a value
    /// with CR, LF, NUL or other control octets (response splitting), or a framing field the
    /// server writes itself (Content-Length, Transfer-Encoding, Connection, Date).
    void add_header(std::string_view name, std::string_view value);

    /// Replaces the body (copied into the connection's reusable buffer).
    void set_body(std::string_view data) { body_.assign(data.data(), data.size()); }
    /// Appends to the body.
    void append_body(std::string_view data) { body_.append(data.data(), data.size()); }
    /// The body buffer itself, to build a body in place.
    [[nodiscard]] std::string& body() noexcept { return body_; }

    /// Closes the connection after this response ("Connection: close").
    void close_connection() noexcept { close_ = true; }

    /// Streaming (async handlers only): sends the head now, with Transfer-Encoding: chunked
    /// (HTTP/1.1; for an HTTP/1.0 client the pieces are collected and sent with Content-Length
    /// at the end), then each call sends `data` as one chunk. An empty `data` is ignored. The
    /// server ends the body (last chunk) when the handler's task finishes. After the first
    /// write, set_status, add_header and the body buffer no longer matter.
    /// Result: empty, or the send error (timed_out after server_options::send_timeout).
    task<result<void>> write(std::string_view data);

    /// Sends `length` octets of the open file `fd`, from `offset`, as the whole body, with
    /// sendfile(2) (async handlers only; instead of set_body or write; once per response). The
    /// head goes first, with Content-Length: length; a HEAD request gets the head only. `fd` must
    /// stay open until the co_await finishes. Result: empty, or the error (timed_out after
    /// server_options::send_timeout without progress; io_error if the file ends early): the
    /// connection then closes, since the body it announced is incomplete.
    task<result<void>> send_file(int fd, std::uint64_t offset, std::uint64_t length);

private:
    friend class detail::connection;
    void reset() noexcept {
        status_ = 200;
        reason_.clear();
        fields_.clear();
        body_.clear();
        close_ = false;
        streaming_ = false;
        body_sent_ = false;
        failed_ = false;
    }

    std::uint16_t status_ = 200;
    std::string reason_;  // empty: reason_phrase(status_)
    std::string fields_;  // "Name: value\r\n" lines
    std::string body_;
    bool close_ = false;
    bool streaming_ = false;  // write() started a chunked body
    bool body_sent_ = false;  // send_file() sent the head and body
    bool failed_ = false;     // send_file() failed part-way: the connection must close
    detail::connection* conn_ = nullptr;
};

}  // namespace coil::http
