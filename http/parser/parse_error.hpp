#pragma once
// coil::http::parse_error: why the HTTP/1.1 request parser refused a request, the status code a
// server answers with, and whether the connection can carry another request afterwards.
//
// Sans-I/O: includes only the standard library (tools/lint.py enforces it for http/parser/).
// Every value names the rule it enforces; docs/http-parser.md lists them with their RFC sections.

#include <cstdint>
#include <string_view>

namespace coil::http {

enum class parse_error : std::uint8_t {
    none = 0,

    // 400 Bad Request: the request line (RFC 9112 §3).
    bad_method,          // the method is not a token (RFC 9110 §9.1, §5.6.2)
    bad_request_target,  // not origin-, absolute-, authority- (CONNECT) or asterisk-form (OPTIONS)
                         // (RFC 9112 §3.2), or a bad percent-encoding (RFC 3986 §2.1)
    bad_request_line,    // not exactly method SP request-target SP HTTP-version CRLF (RFC 9112 §3)
    bad_version,         // not "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3)

    // 400: bytes that may not appear in a request head (RFC 9112 §2.2, RFC 9110 §5.5).
    bare_cr,       // CR not followed by LF
    bare_lf,       // LF not preceded by CR (RFC 9112 §2.2 allows accepting it; coil does not)
    control_byte,  // NUL or another control byte (other than HTAB in a field value)

    // 400: field lines (RFC 9112 §5, RFC 9110 §5).
    whitespace_before_colon,  // "Name : value" (RFC 9112 §5.1: MUST reject with 400)
    obs_fold,                 // a field line continued on the next line (RFC 9112 §5.2)
    leading_whitespace,       // whitespace between the request line and the first field (§2.2)
    bad_field_name,           // a field name that is empty or not a token (RFC 9110 §5.1)
    missing_colon,            // a field line without a colon (RFC 9112 §5)

    // 400: message framing (RFC 9112 §6).
    bad_content_length,  // not 1*DIGIT: a sign, hex, inner spaces, empty, overflow, or a list or
                         // repeated fields with different values (RFC 9110 §8.6, RFC 9112 §6.3)
    content_length_with_transfer_encoding,  // both present (RFC 9112 §6.1, §6.3 item 3)
    chunked_not_final,      // Transfer-Encoding whose final coding is not chunked, or chunked
                            // applied twice (RFC 9112 §6.3 item 4, §7)
    bad_transfer_encoding,  // an empty or unparseable Transfer-Encoding value (RFC 9112 §6.1)
    transfer_encoding_in_http10,  // Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)

    // 400: Host (RFC 9112 §3.2). These are found after framing is decided (see must_close).
    missing_host,    // an HTTP/1.1 request without Host
    duplicate_host,  // more than one Host field line
    bad_host,        // a Host value that is not uri-host [":" port] (RFC 9110 §7.2, RFC 3986)

    // 400: chunked body (RFC 9112 §7.1).
    bad_chunk_size,       // chunk-size not 1*HEXDIG, or over 64 bits
    bad_chunk_extension,  // chunk-ext not *( BWS ";" BWS name [ BWS "=" BWS token/quoted ] )
    bad_chunk_framing,    // chunk data not followed by CRLF, or a chunk line not ended by CRLF
    chunk_line_too_long,  // a chunk-size line (with its extensions) over limits.max_chunk_line

    // 501 Not Implemented.
    unknown_transfer_coding,  // a transfer coding other than chunked (RFC 9112 §6.1, §7)

    // 505 HTTP Version Not Supported.
    unsupported_version,  // a well-formed version other than HTTP/1.0 and HTTP/1.1 (RFC 9110 §15.6.6)

    // 414 URI Too Long.
    request_line_too_long,  // request line over limits.max_request_line (RFC 9112 §3)

    // 431 Request Header Fields Too Large (RFC 6585 §5).
    header_block_too_large,  // field lines (or trailer lines) over limits.max_header_block
    too_many_fields,         // more field lines (or trailer lines) than limits.max_fields

    // 413 Content Too Large (RFC 9110 §15.5.14).
    body_too_large,  // Content-Length, or the sum of chunk sizes, over limits.max_body
};

/// The status line a server answers a parse_error with.
struct error_status {
    std::uint16_t code = 0;   // 400, 413, 414, 431, 501 or 505; 0 for parse_error::none
    std::string_view reason;  // the reason phrase of RFC 9110 §15 (RFC 6585 for 431)
};

/// The status code and reason phrase for `e`.
[[nodiscard]] constexpr error_status status_of(parse_error e) noexcept {
    switch (e) {
    case parse_error::none: return {0, ""};
    case parse_error::unknown_transfer_coding: return {501, "Not Implemented"};
    case parse_error::unsupported_version: return {505, "HTTP Version Not Supported"};
    case parse_error::request_line_too_long: return {414, "URI Too Long"};
    case parse_error::header_block_too_large:
    case parse_error::too_many_fields: return {431, "Request Header Fields Too Large"};
    case parse_error::body_too_large: return {413, "Content Too Large"};
    default: return {400, "Bad Request"};
    }
}

/// True if, after answering, the server must close the connection: the end of this request is
/// unknown (framing uncertain), or its body is refused unread (413). False only for the Host errors,
/// which are found after the head was parsed and its framing decided: request_parser::head() is
/// then complete, and a server that skips the body by head().framing may read the next request.
/// Closing anyway is always safe (RFC 9112 §9.6).
[[nodiscard]] constexpr bool must_close(parse_error e) noexcept {
    switch (e) {
    case parse_error::missing_host:
    case parse_error::duplicate_host:
    case parse_error::bad_host: return false;
    default: return e != parse_error::none;
    }
}

/// A short English description of `e` (for logs; not sent to clients by the parser).
[[nodiscard]] std::string_view describe(parse_error e) noexcept;

}  // namespace coil::http
