#pragma once
// coil::http::request_parser: an incremental, zero-copy, sans-I/O HTTP/1.1 request-head parser
// (RFC 9112 §2-§6, RFC 9110), strict because a lenient parser is how request smuggling happens.
//
// The server owns a per-connection buffer, reads into it, and calls parse() with the bytes it holds
// from the start of the current request. The result says complete (head() is ready, `consumed`
// octets of head), incomplete (read more, then call again), or error (answer status_of(error) and,
// if must_close(error), close). head()'s strings are views into the caller's buffer: no copy, no
// allocation, ever. Pipelining: after a complete head and its body, call parse() on the bytes
// after them; the parser starts a new request by itself.
//
// Sans-I/O: includes only the standard library (tools/lint.py enforces it for http/parser/).
// Threading: a parser is a plain value; use one per connection from one thread at a time.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "coil/http/parser/limits.hpp"
#include "coil/http/parser/parse_error.hpp"

namespace coil::http {

/// One field line: views into the caller's buffer. The name is as received (match it ignoring
/// case); the value has its leading and trailing whitespace removed (RFC 9112 §5).
struct header_field {
    std::string_view name;
    std::string_view value;
};

/// How the request's body is delimited (RFC 9112 §6.3).
enum class body_framing : std::uint8_t {
    none,            // no body: neither Content-Length nor Transfer-Encoding
    content_length,  // exactly request_head::content_length octets follow the head
    chunked,         // chunked transfer coding follows the head: decode it with chunked_decoder
};

/// Which of the four request-target forms of RFC 9112 §3.2 the target has.
enum class target_form : std::uint8_t {
    origin,     // "/path?query" (§3.2.1)
    absolute,   // "http://host/path" (§3.2.2); a server MUST accept it
    authority,  // "host:port", CONNECT only (§3.2.3)
    asterisk,   // "*", OPTIONS only (§3.2.4)
};

/// A parsed request head. Every string_view points into the buffer given to parse(): valid while
/// those bytes stay where they are, unchanged.
struct request_head {
    std::string_view method;  // a token, case-sensitive (RFC 9110 §9.1); any token is accepted
    std::string_view target;  // the request-target as received (percent-encoding kept)
    target_form form = target_form::origin;
    std::uint8_t version_minor = 1;     // 1 for HTTP/1.1, 0 for HTTP/1.0 (others are refused)
    std::span<const header_field> fields;  // in order received, at most limits.max_fields
    body_framing framing = body_framing::none;
    std::uint64_t content_length = 0;  // octets, when framing == content_length
    /// The connection may carry another request after this one: HTTP/1.1 without "Connection:
    /// close", or HTTP/1.0 with "Connection: keep-alive" (RFC 9112 §9.3).
    bool keep_alive = true;
    /// "Expect: 100-continue" on HTTP/1.1 (RFC 9110 §10.1.1; ignored on HTTP/1.0 as it says).
    bool expect_continue = false;
    /// The target URI's authority (RFC 9112 §3.3): an absolute-form target's authority, else the
    /// Host field's value (possibly empty; empty too for HTTP/1.0 without Host).
    std::string_view host;

    /// The value of the first field named `name` (ASCII case-insensitive), or an empty view with a
    /// null data() when there is none.
    [[nodiscard]] std::string_view field(std::string_view name) const noexcept;
};

/// What parse() did.
enum class parse_status : std::uint8_t { complete, incomplete, error };

struct parse_result {
    parse_status status = parse_status::incomplete;
    /// complete: octets of the head, from the first byte given (empty lines before the request
    /// line included) through the CRLF of the empty line that ends it; the body starts there.
    /// incomplete and error: 0.
    std::size_t consumed = 0;
    parse_error error = parse_error::none;  // set when status == error
};

/// Parses one request head at a time. About 3.4 KiB (the field array is inside: no allocation).
///
/// Incremental contract: while parse() says incomplete, call it again with the same request's
/// bytes from its first byte, with more appended. The bytes already given must be unchanged, but
/// may have moved (a buffer compacted or grown is fine). Work is linear in the head's size however
/// it is split: the parser remembers the complete lines it parsed and how far it looked for the
/// end of the current line, and rescans nothing else.
/// After complete, the next parse() call starts a new request (give it the bytes after the body).
/// After error, call reset() before parsing anything else (normally the connection closes).
class request_parser {
public:
    /// `limits.max_fields` above field_capacity is clamped to it.
    explicit request_parser(const parser_limits& limits = {}) noexcept;

    request_parser(const request_parser&) = delete;  // head().fields points into this object
    request_parser& operator=(const request_parser&) = delete;

    /// Parses the head at the start of `in`. See the class comment for the incremental contract.
    [[nodiscard]] parse_result parse(std::string_view in) noexcept;

    /// The head: complete after parse() said complete, and after a Host error (see must_close).
    /// Valid until the next parse() or reset(), and while the buffer's bytes stay put.
    [[nodiscard]] const request_head& head() const noexcept { return head_; }

    /// Forgets any partial request; the next parse() starts a new one.
    void reset() noexcept;

    [[nodiscard]] const parser_limits& limits() const noexcept { return limits_; }

private:
    enum class phase : std::uint8_t { request_line, fields, done, failed };

    parse_result fail(parse_error e) noexcept;
    parse_error parse_request_line(const char* p, const char* eol, bool has_eol) noexcept;
    parse_error parse_field(const char* p, const char* eol, const char* read_end) noexcept;
    parse_error finish() noexcept;
    void rebase(const char* base) noexcept;
    parse_error apply_field(const header_field& f) noexcept;

    parser_limits limits_;
    phase phase_ = phase::request_line;
    // Progress within the current request, as offsets from the start of its bytes.
    std::size_t line_start_ = 0;  // the line being parsed
    std::size_t scan_from_ = 0;    // where the search for its LF resumes
    std::size_t block_start_ = 0;  // the first field line
    std::uintptr_t base_ = 0;      // address of the bytes last seen, to move views if they moved
    // What the field lines said so far.
    std::uint64_t content_length_ = 0;
    std::uint16_t host_count_ = 0;
    bool content_length_seen_ = false;
    bool te_seen_ = false;
    bool te_last_chunked_ = false;
    bool te_chunked_twice_ = false;  // chunked followed by another coding, or repeated
    bool te_unknown_ = false;
    bool te_bad_ = false;
    bool conn_close_ = false;
    bool conn_keep_alive_ = false;
    bool expect_continue_ = false;
    parse_error error_ = parse_error::none;  // once failed, parse() repeats it
    std::size_t field_count_ = 0;
    std::string_view host_value_;  // the Host field's value
    std::string_view authority_;   // an absolute-form target's authority
    request_head head_;
    header_field fields_[field_capacity];
};

}  // namespace coil::http
