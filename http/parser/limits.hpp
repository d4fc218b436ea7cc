#pragma once
// coil::http::parser_limits: the bounds the request parser and chunked decoder enforce, so that a
// peer cannot make a server buffer or scan without end. Sans-I/O: standard library only.

#include <cstddef>
#include <cstdint>

namespace coil::http {

/// The most field lines a request_parser can hold (its fixed field array); limits.max_fields may
/// be lower, never higher. 100 is Apache's LimitRequestFields default.
inline constexpr std::size_t field_capacity = 100;

/// Bounds on one request. Defaults are nginx-like and are documented in docs/http-parser.md.
struct parser_limits {
    /// Octets of the request line, without its CRLF; any empty lines before it count too.
    /// Over it: 414. RFC 9112 §3 recommends supporting at least 8,000; nginx's buffer is 8 KiB.
    std::size_t max_request_line = 8 * 1024;
    /// Octets of the field lines, from the first field line through the empty line that ends the
    /// head (CRLFs included). The same bound applies to a chunked body's trailer section.
    /// Over it: 431. nginx allows 4 buffers of 8 KiB (large_client_header_buffers); 32 KiB here.
    std::size_t max_header_block = 32 * 1024;
    /// Field lines per head (and per trailer section). Over it: 431. Must be <= field_capacity.
    std::size_t max_fields = field_capacity;
    /// Octets of body: a Content-Length over it is refused before any body is read; a chunked body
    /// is refused once its chunk sizes add up to more. Over it: 413. nginx's client_max_body_size.
    std::uint64_t max_body = 1024 * 1024;
    /// Octets of one chunk-size line with its extensions, without its CRLF. Over it: 400.
    std::size_t max_chunk_line = 4 * 1024;
};

}  // namespace coil::http
