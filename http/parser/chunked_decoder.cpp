#include "coil/http/parser/chunked_decoder.hpp"

#include <algorithm>
#include <cstring>

#include "coil/http/parser/syntax.hpp"

namespace coil::http {

using syntax::is;

chunked_decoder::chunked_decoder(const parser_limits& limits) noexcept : limits_(limits) {}

void chunked_decoder::reset() noexcept {
    phase_ = phase::size_line;
    remaining_ = body_size_ = 0;
    scan_from_ = trailer_bytes_ = trailer_count_ = 0;
    error_ = parse_error::none;
}

chunk_result chunked_decoder::fail(parse_error e) noexcept {
    phase_ = phase::failed;
    error_ = e;
    chunk_result r;
    r.status = chunk_status::error;
    r.error = e;
    return r;
}

chunk_result chunked_decoder::decode(std::string_view in) noexcept {
    chunk_result r;
    const char* p = in.data();
    const char* const end = in.data() + in.size();
    for (;;) {
        switch (phase_) {
        case phase::failed: return fail(error_);
        case phase::done:
            r.status = chunk_status::done;
            r.consumed = static_cast<std::size_t>(p - in.data());
            return r;
        case phase::data: {
            const auto avail = static_cast<std::size_t>(end - p);
            if (avail == 0) {
                r.status = chunk_status::incomplete;
                r.consumed = static_cast<std::size_t>(p - in.data());
                return r;
            }
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, avail));
            remaining_ -= n;
            if (remaining_ == 0) phase_ = phase::data_crlf;
            r.status = chunk_status::data;
            r.data = std::string_view(p, n);
            r.consumed = static_cast<std::size_t>(p - in.data()) + n;
            return r;
        }
        case phase::data_crlf: {
            // chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF (RFC 9112 §7.1)
            const auto avail = end - p;
            if (avail >= 1 && p[0] != '\r') return fail(parse_error::bad_chunk_framing);
            if (avail >= 2 && p[1] != '\n') return fail(parse_error::bad_chunk_framing);
            if (avail < 2) {
                r.status = chunk_status::incomplete;
                r.consumed = static_cast<std::size_t>(p - in.data());
                return r;
            }
            p += 2;
            phase_ = phase::size_line;
            scan_from_ = 0;
            break;
        }
        case phase::size_line:
        case phase::trailer: {
            const bool trailer = phase_ == phase::trailer;
            const auto avail = static_cast<std::size_t>(end - p);
            // The line's LF must lie before `window` octets from the line's start.
            const std::size_t window =
                trailer ? limits_.max_header_block - std::min(trailer_bytes_, limits_.max_header_block)
                        : limits_.max_chunk_line + 2;
            const std::size_t stop = std::min(avail, window);
            const char* lf = nullptr;
            if (scan_from_ < stop) {
                lf = static_cast<const char*>(std::memchr(p + scan_from_, '\n', stop - scan_from_));
            }
            if (lf == nullptr && avail < window) {
                scan_from_ = stop;
                r.status = chunk_status::incomplete;
                r.consumed = static_cast<std::size_t>(p - in.data());
                return r;
            }
            const bool has_eol = lf != nullptr;
            if (has_eol && (lf == p || lf[-1] != '\r')) return fail(parse_error::bare_lf);
            const char* line_end = has_eol ? lf - 1 : p + window - (trailer ? 1 : 2);
            if (trailer) {
                if (has_eol && line_end == p) {  // the empty line that ends the trailer section
                    p = lf + 1;
                    phase_ = phase::done;
                    break;
                }
                if (trailer_count_ == limits_.max_fields) return fail(parse_error::too_many_fields);
                header_field f;
                auto e = syntax::parse_field_line(p, line_end, has_eol ? end : line_end, has_eol, false,
                                                  parse_error::header_block_too_large, f);
                // A trailer line starting with whitespace is obs-fold like in a head.
                if (e != parse_error::none) return fail(e);
                ++trailer_count_;
                trailer_bytes_ += static_cast<std::size_t>(lf + 1 - p);
                scan_from_ = 0;
                r.status = chunk_status::trailer_field;
                r.trailer = f;
                r.consumed = static_cast<std::size_t>(lf + 1 - in.data());
                return r;
            }
            // chunk-size = 1*HEXDIG, then chunk-ext (RFC 9112 §7.1, §7.1.1).
            const char* q = p;
            std::uint64_t size = 0;
            while (q < line_end && is(*q, syntax::hex)) {
                if (size >> 60 != 0) return fail(parse_error::bad_chunk_size);
                const char c = *q;
                const int digit = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
                size = size * 16 + static_cast<std::uint64_t>(digit);
                ++q;
            }
            if (q == p) {
                return fail(q < line_end ? syntax::unexpected(q, line_end, parse_error::bad_chunk_size)
                                         : parse_error::bad_chunk_size);
            }
            const std::string_view ext(q, static_cast<std::size_t>(line_end - q));
            // BWS is allowed only before ';' and around '=' (RFC 9112 §7.1.1): whitespace that
            // ends the line ("0 \r\n", "1;a=b\t\r\n") is outside the grammar, and lenient
            // readings of it differ between implementations (a smuggling vector).
            if (!ext.empty() && syntax::is_ows(ext.back())) {
                return fail(ext.find(';') == std::string_view::npos ? parse_error::bad_chunk_size
                                                                     : parse_error::bad_chunk_extension);
            }
            if (!syntax::valid_parameters(ext, false)) {
                // Name the byte when it is a control byte or bare CR; else the grammar.
                for (const char* c = q; c < line_end; ++c) {
                    auto e = syntax::unexpected(c, line_end, parse_error::none);
                    if (e != parse_error::none && *c != '\t') return fail(e);
                }
                return fail(q == line_end || *q == ';' || syntax::is_ows(*q)
                                ? parse_error::bad_chunk_extension
                                : parse_error::bad_chunk_size);
            }
            if (!has_eol) return fail(parse_error::chunk_line_too_long);
            if (size > limits_.max_body - std::min(body_size_, limits_.max_body)) {
                return fail(parse_error::body_too_large);
            }
            body_size_ += size;
            p = lf + 1;
            scan_from_ = 0;
            r.extensions = ext;
            if (size == 0) {
                phase_ = phase::trailer;  // last-chunk; trailer-section CRLF follows
            } else {
                remaining_ = size;
                phase_ = phase::data;
            }
            break;
        }
        }
    }
}

}  // namespace coil::http
