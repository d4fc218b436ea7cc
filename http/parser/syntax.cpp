#include "coil/http/parser/syntax.hpp"

#include <cstdint>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace coil::http::syntax {

namespace {

// Skips field-value bytes 16 at a time with SSE2 (x86-64's baseline), else 8 at a time (SWAR):
// a block is skipped whole when none of its bytes is below 0x20 or equal to 0x7f; the byte loop
// takes over at the first block holding one (HTAB, also below 0x20, is rare in values).
// Blocks may extend past `end` up to `read_end` (the bytes after a value are its CR LF and
// whatever the buffer holds next): the result is clamped to `end`, so it depends only on the
// bytes before `end`, while a short value still takes one block instead of a byte loop.
const char* skip_field_value(const char* p, const char* end, const char* read_end) noexcept {
#ifdef __SSE2__
    const __m128i space = _mm_set1_epi8(0x20);
    const __m128i del = _mm_set1_epi8(0x7f);
    while (read_end - p >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        // ok: v >= 0x20 (unsigned) and v != 0x7f
        const __m128i ge_space = _mm_cmpeq_epi8(_mm_max_epu8(v, space), v);
        const __m128i ok = _mm_andnot_si128(_mm_cmpeq_epi8(v, del), ge_space);
        const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(ok));
        if (mask != 0xffff) {
            p += __builtin_ctz(~mask);
            break;
        }
        p += 16;
    }
#else
    // "Has a byte less than n" (Hacker's Delight 6-1, n <= 0x80) is exact for "any byte".
    constexpr std::uint64_t ones = 0x0101010101010101u;
    constexpr std::uint64_t highs = 0x8080808080808080u;
    while (read_end - p >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        const std::uint64_t below_space = (w - ones * 0x20) & ~w & highs;
        const std::uint64_t d = w ^ (ones * 0x7f);
        const std::uint64_t is_del = (d - ones) & ~d & highs;
        if ((below_space | is_del) != 0) break;
        p += 8;
    }
#endif
    if (p >= end) return end;
    while (p < end && is(*p, field_vchar)) ++p;
    return p;
}

}  // namespace

parse_error parse_field_line(const char* p, const char* end, const char* read_end, bool has_eol,
                             bool first, parse_error too_long, header_field& out) noexcept {
    if (p >= end) return has_eol ? parse_error::missing_colon : too_long;
    if (is_ows(*p)) return first ? parse_error::leading_whitespace : parse_error::obs_fold;
    const char* name = p;
    while (p < end && is(*p, tchar)) ++p;
    if (p == end) return has_eol ? parse_error::missing_colon : too_long;
    if (*p != ':') {
        if (is_ows(*p)) return parse_error::whitespace_before_colon;
        return unexpected(p, end, parse_error::bad_field_name);
    }
    if (p == name) return parse_error::bad_field_name;
    out.name = std::string_view(name, static_cast<std::size_t>(p - name));
    ++p;
    while (p < end && is_ows(*p)) ++p;
    const char* value = p;
    // The hot loop of the parser: most bytes of a head are field values.
    p = skip_field_value(p, end, read_end);
    if (p != end) return unexpected(p, end, parse_error::control_byte);
    if (!has_eol) return too_long;
    while (p > value && is_ows(p[-1])) --p;
    out.value = std::string_view(value, static_cast<std::size_t>(p - value));
    return parse_error::none;
}

}  // namespace coil::http::syntax

namespace coil::http::syntax {

namespace {

std::size_t skip_ows(std::string_view s, std::size_t i) noexcept {
    while (i < s.size() && is_ows(s[i])) ++i;
    return i;
}

std::size_t skip_token(std::string_view s, std::size_t i) noexcept {
    while (i < s.size() && is(s[i], tchar)) ++i;
    return i;
}

// quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 9110 §5.6.4); `i` is at the opening
// quote. Returns the index after the closing quote, or npos.
std::size_t skip_quoted(std::string_view s, std::size_t i) noexcept {
    for (++i; i < s.size(); ++i) {
        if (s[i] == '"') return i + 1;
        if (s[i] == '\\') {
            // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
            if (++i == s.size() || !is(s[i], field_vchar)) return std::string_view::npos;
        } else if (!is(s[i], qdtext)) {
            return std::string_view::npos;
        }
    }
    return std::string_view::npos;
}

}  // namespace

bool valid_parameters(std::string_view s, bool value_required) noexcept {
    std::size_t i = skip_ows(s, 0);
    while (i < s.size()) {
        if (s[i] != ';') return false;
        i = skip_ows(s, i + 1);
        std::size_t name_end = skip_token(s, i);
        if (name_end == i) return false;
        i = skip_ows(s, name_end);
        if (i < s.size() && s[i] == '=') {
            i = skip_ows(s, i + 1);
            if (i < s.size() && s[i] == '"') {
                i = skip_quoted(s, i);
                if (i == std::string_view::npos) return false;
            } else {
                std::size_t value_end = skip_token(s, i);
                if (value_end == i) return false;
                i = value_end;
            }
            i = skip_ows(s, i);
        } else if (value_required) {
            return false;
        }
    }
    return true;
}

bool valid_authority(std::string_view s, bool port_required) noexcept {
    std::size_t i = 0;
    if (!s.empty() && s[0] == '[') {
        // IP-literal: IPv6address or IPvFuture. Checked for its alphabet, not its full grammar:
        // enough to keep delimiters, spaces and controls out.
        std::size_t close = s.find(']');
        if (close == std::string_view::npos || close == 1) return false;
        for (std::size_t j = 1; j < close; ++j) {
            if (!is(s[j], reg_name) && s[j] != ':') return false;
        }
        i = close + 1;
    } else {
        while (i < s.size()) {
            if (is(s[i], reg_name)) {
                ++i;
            } else if (s[i] == '%' && i + 2 < s.size() && is(s[i + 1], hex) && is(s[i + 2], hex)) {
                i += 3;
            } else {
                break;
            }
        }
    }
    if (i == s.size()) return !port_required;
    if (s[i] != ':') return false;
    ++i;
    if (port_required && i == s.size()) return false;
    for (; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
    }
    return true;
}

}  // namespace coil::http::syntax
