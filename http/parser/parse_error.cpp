#include "coil/http/parser/parse_error.hpp"

namespace coil::http {

std::string_view describe(parse_error e) noexcept {
    switch (e) {
    case parse_error::none: return "no error";
    case parse_error::bad_method: return "the method is not a token";
    case parse_error::bad_request_target: return "invalid request-target";
    case parse_error::bad_request_line: return "malformed request line";
    case parse_error::bad_version: return "malformed HTTP version";
    case parse_error::bare_cr: return "CR not followed by LF";
    case parse_error::bare_lf: return "LF not preceded by CR";
    case parse_error::control_byte: return "control byte in the request head";
    case parse_error::whitespace_before_colon: return "whitespace between field name and colon";
    case parse_error::obs_fold: return "obsolete line folding";
    case parse_error::leading_whitespace: return "whitespace before the first field line";
    case parse_error::bad_field_name: return "invalid field name";
    case parse_error::missing_colon: return "field line without a colon";
    case parse_error::bad_content_length: return "invalid Content-Length";
    case parse_error::content_length_with_transfer_encoding:
        return "both Content-Length and Transfer-Encoding";
    case parse_error::chunked_not_final: return "chunked is not the final transfer coding";
    case parse_error::bad_transfer_encoding: return "invalid Transfer-Encoding";
    case parse_error::transfer_encoding_in_http10: return "Transfer-Encoding in HTTP/1.0";
    case parse_error::missing_host: return "HTTP/1.1 request without Host";
    case parse_error::duplicate_host: return "more than one Host";
    case parse_error::bad_host: return "invalid Host";
    case parse_error::bad_chunk_size: return "invalid chunk size";
    case parse_error::bad_chunk_extension: return "invalid chunk extension";
    case parse_error::bad_chunk_framing: return "chunk not followed by CRLF";
    case parse_error::chunk_line_too_long: return "chunk-size line too long";
    case parse_error::unknown_transfer_coding: return "unsupported transfer coding";
    case parse_error::unsupported_version: return "HTTP version not supported";
    case parse_error::request_line_too_long: return "request line too long";
    case parse_error::header_block_too_large: return "header fields too large";
    case parse_error::too_many_fields: return "too many header fields";
    case parse_error::body_too_large: return "body too large";
    }
    return "unknown parse_error";
}

}  // namespace coil::http
