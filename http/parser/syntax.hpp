#pragma once
// Private to http/parser/ (not installed): the character classes of RFC 9110 / RFC 3986 as tables,
// and the field-line grammar shared by request heads and chunked trailers.

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "coil/http/parser/parse_error.hpp"
#include "coil/http/parser/request_parser.hpp"

namespace coil::http::syntax {

enum char_class : std::uint8_t {
    tchar = 1,        // token characters (RFC 9110 §5.6.2)
    field_vchar = 2,  // VCHAR / obs-text / SP / HTAB: what a field value may hold (RFC 9110 §5.5)
    target = 4,       // unreserved / sub-delims / ":" / "@" / "/" / "?" (RFC 3986 pchar, query)
    hex = 8,          // HEXDIG
    reg_name = 16,    // unreserved / sub-delims (RFC 3986 reg-name, without pct-encoded)
    scheme = 32,      // ALPHA / DIGIT / "+" / "-" / "." (RFC 3986 §3.1)
    qdtext = 64,      // quoted-string text: HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
};

constexpr std::array<std::uint8_t, 256> make_table() noexcept {
    std::array<std::uint8_t, 256> t{};
    auto add = [&t](std::string_view chars, std::uint8_t cls) {
        for (char c : chars) t[static_cast<unsigned char>(c)] |= cls;
    };
    constexpr std::string_view alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    constexpr std::string_view digit = "0123456789";
    add(alpha, tchar | target | reg_name | scheme);
    add(digit, tchar | target | reg_name | scheme | hex);
    add("!#$%&'*+-.^_`|~", tchar);
    add("-._~", target | reg_name);          // unreserved
    add("!$&'()*+,;=", target | reg_name);   // sub-delims
    add(":@/?", target);
    add("+-.", scheme);
    add("ABCDEFabcdef", hex);
    for (int c = 0x21; c < 0x7f; ++c) t[static_cast<std::size_t>(c)] |= field_vchar | qdtext;
    for (int c = 0x80; c < 0x100; ++c) t[static_cast<std::size_t>(c)] |= field_vchar | qdtext;
    t[' '] |= field_vchar | qdtext;
    t['\t'] |= field_vchar | qdtext;
    t['"'] &= static_cast<std::uint8_t>(~qdtext);
    t['\\'] &= static_cast<std::uint8_t>(~qdtext);
    return t;
}

inline constexpr std::array<std::uint8_t, 256> table = make_table();

constexpr bool is(char c, char_class cls) noexcept {
    return (table[static_cast<unsigned char>(c)] & cls) != 0;
}

constexpr bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

constexpr char lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

/// ASCII case-insensitive equality; `lower_literal` must be lower case letters, digits and '-'.
/// Setting bit 0x20 lowers a letter and leaves digits and '-' alone; the only other bytes it could
/// map onto a digit or '-' are control bytes, which no token or field value holds.
/// Compares eight bytes at a time: field names are matched on every field line.
inline bool iequals(std::string_view s, std::string_view lower_literal) noexcept {
    if (s.size() != lower_literal.size()) return false;
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t a;
        std::uint64_t b;
        std::memcpy(&a, s.data() + i, 8);
        std::memcpy(&b, lower_literal.data() + i, 8);
        if ((a | 0x2020202020202020u) != b) return false;
    }
    for (; i < s.size(); ++i) {
        if (static_cast<char>(s[i] | 0x20) != lower_literal[i]) return false;
    }
    return true;
}

/// The error for byte `*p` where the grammar wanted something else: a control byte, a bare CR
/// (a CR not at `cr`, the CR of the line's CRLF) or `otherwise`.
constexpr parse_error unexpected(const char* p, const char* cr, parse_error otherwise) noexcept {
    const auto c = static_cast<unsigned char>(*p);
    if (c == '\r') return p == cr ? otherwise : parse_error::bare_cr;
    if (c < 0x20 || c == 0x7f) return c == '\t' ? otherwise : parse_error::control_byte;
    return otherwise;
}

/// Parses the field line [p, end): `end` is the line's CR when `has_eol` (the caller found its
/// LF right after), else the limit the line ran into without an LF; the latter returns
/// `too_long` unless a syntax error comes first. `first` says no field line came before (a
/// leading SP/HTAB is then leading_whitespace rather than obs_fold). `read_end` (>= end) is the
/// end of the readable bytes: the parser may look at bytes up to it, but its result depends only
/// on the bytes before `end`.
parse_error parse_field_line(const char* p, const char* end, const char* read_end, bool has_eol,
                             bool first, parse_error too_long, header_field& out) noexcept;

/// True if `s` is `*( OWS ";" OWS token [ OWS "=" OWS ( token / quoted-string ) ] )`: the
/// parameters of a transfer coding (RFC 9112 §7, value required) or a chunk's extensions (RFC 9112
/// §7.1.1, value optional).
bool valid_parameters(std::string_view s, bool value_required) noexcept;

/// True if `s` is uri-host [ ":" port ] (RFC 3986 §3.2.2-3.2.3; RFC 9110 §7.2): an IP-literal in
/// brackets, or a reg-name (possibly empty) of unreserved, sub-delims and percent-encodings, then
/// an optional port of digits (required and non-empty when `port_required`). No userinfo.
bool valid_authority(std::string_view s, bool port_required) noexcept;

/// Splits a comma-separated list (RFC 9110 §5.6.1) and calls `f(element)` for each element with
/// its surrounding OWS removed, empty elements included. Stops early if `f` returns false.
template <class F>
constexpr void for_each_list_element(std::string_view v, F&& f) {
    std::size_t i = 0;
    for (;;) {
        std::size_t j = v.find(',', i);
        std::size_t e = j == std::string_view::npos ? v.size() : j;
        std::size_t b = i;
        while (b < e && is_ows(v[b])) ++b;
        while (e > b && is_ows(v[e - 1])) --e;
        if (!f(v.substr(b, e - b))) return;
        if (j == std::string_view::npos) return;
        i = j + 1;
    }
}

}  // namespace coil::http::syntax
