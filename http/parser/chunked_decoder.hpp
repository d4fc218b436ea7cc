#pragma once
// coil::http::chunked_decoder: incremental, zero-copy decoding of a chunked request body
// (RFC 9112 §7.1): chunk sizes, chunk extensions, chunk data as views into the caller's buffer,
// and the trailer section. Sans-I/O: standard library only.
//
// Use: after request_parser says complete with head().framing == body_framing::chunked, give
// decode() the bytes that follow the head. Each call returns one event and how many bytes it
// consumed; drop those and call again with what remains (plus whatever arrived):
//   data           `data` is the next piece of body (a view into the input; never empty)
//   trailer_field  `trailer` is one trailer field line, validated like a head's field line
//   done           the body and its trailers are over: the next request starts after `consumed`
//   incomplete     read more and call again with the unconsumed bytes followed by the new ones
//                  (`consumed` may be non-zero: a chunk-size line or CRLF was taken)
//   error          answer status_of(error) and close: framing is lost
// Lines (chunk-size lines, trailer lines) are consumed whole: the decoder never holds a partial
// line, so keep unconsumed bytes and present them again. It remembers how far it searched for the
// current line's end, so presenting a growing line again costs linear time (the bytes may move).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "coil/http/parser/limits.hpp"
#include "coil/http/parser/parse_error.hpp"
#include "coil/http/parser/request_parser.hpp"

namespace coil::http {

enum class chunk_status : std::uint8_t { data, trailer_field, done, incomplete, error };

struct chunk_result {
    chunk_status status = chunk_status::incomplete;
    std::size_t consumed = 0;  // octets of the input used, whatever the status (0 on error)
    std::string_view data;     // status data: a view into the input
    /// The extensions of a chunk-size line this call consumed, as received (from the first ';'
    /// or BWS; empty if none): set on the result of that call only, whatever its status.
    std::string_view extensions;
    header_field trailer;                   // status trailer_field: views into the input
    parse_error error = parse_error::none;  // status error
};

/// Limits used: max_body (sum of chunk sizes; over it: body_too_large), max_chunk_line,
/// max_header_block and max_fields (for the trailer section).
class chunked_decoder {
public:
    explicit chunked_decoder(const parser_limits& limits = {}) noexcept;

    /// Decodes from the start of `in`. See the file comment.
    [[nodiscard]] chunk_result decode(std::string_view in) noexcept;

    /// Starts a new body.
    void reset() noexcept;

    /// The sum of the chunk sizes read so far: once done, the decoded body's length; before, it
    /// includes the part of the current chunk not yet delivered. Checked against max_body.
    [[nodiscard]] std::uint64_t body_size() const noexcept { return body_size_; }

private:
    enum class phase : std::uint8_t { size_line, data, data_crlf, trailer, done, failed };

    chunk_result fail(parse_error e) noexcept;

    parser_limits limits_;
    phase phase_ = phase::size_line;
    std::uint64_t remaining_ = 0;   // octets left in the current chunk
    std::uint64_t body_size_ = 0;
    std::size_t scan_from_ = 0;     // how far the search for the current line's LF got
    std::size_t trailer_bytes_ = 0;
    std::size_t trailer_count_ = 0;
    parse_error error_ = parse_error::none;
};

}  // namespace coil::http
