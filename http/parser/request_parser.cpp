#include "coil/http/parser/request_parser.hpp"

#include <algorithm>
#include <cstring>

#include "coil/http/parser/syntax.hpp"

namespace coil::http {

using syntax::is;

namespace {

// Validates the request-target [t, t + n) against the method and returns its form, or nullopt
// as target_form-with-flag. `authority` receives an absolute-form target's authority.
parse_error classify_target(std::string_view method, std::string_view target, bool has_bracket,
                            target_form& form, std::string_view& authority) noexcept {
    if (method == "CONNECT") {
        // authority-form only (RFC 9112 §3.2.3).
        form = target_form::authority;
        return syntax::valid_authority(target, true) ? parse_error::none
                                                     : parse_error::bad_request_target;
    }
    if (target[0] == '/') {
        // origin-form = absolute-path [ "?" query ] (RFC 9112 §3.2.1): brackets are gen-delims
        // that may not appear unencoded in a path or query (RFC 3986 §3.3, §3.4).
        form = target_form::origin;
        return has_bracket ? parse_error::bad_request_target : parse_error::none;
    }
    if (target == "*") {
        // asterisk-form, OPTIONS only (RFC 9112 §3.2.4).
        form = target_form::asterisk;
        return method == "OPTIONS" ? parse_error::none : parse_error::bad_request_target;
    }
    // absolute-form = absolute-URI = scheme ":" hier-part [ "?" query ] (RFC 9112 §3.2.2).
    form = target_form::absolute;
    std::size_t i = 0;
    if (!(target[0] >= 'A' && target[0] <= 'Z') && !(target[0] >= 'a' && target[0] <= 'z')) {
        return parse_error::bad_request_target;
    }
    while (i < target.size() && is(target[i], syntax::scheme)) ++i;
    if (i == target.size() || target[i] != ':') return parse_error::bad_request_target;
    std::string_view scheme = target.substr(0, i);
    std::string_view rest = target.substr(i + 1);
    const bool http_scheme = syntax::iequals(scheme, "http") || syntax::iequals(scheme, "https");
    if (rest.starts_with("//")) {
        rest.remove_prefix(2);
        std::size_t end = rest.find_first_of("/?");
        if (end == std::string_view::npos) end = rest.size();
        authority = rest.substr(0, end);
        rest.remove_prefix(end);
        if (!syntax::valid_authority(authority, false)) return parse_error::bad_request_target;
        // An http(s) URI with an empty host MUST be rejected (RFC 9110 §4.2.1, §4.2.2).
        if (http_scheme && (authority.empty() || authority[0] == ':')) {
            return parse_error::bad_request_target;
        }
    } else if (http_scheme) {
        return parse_error::bad_request_target;
    }
    if (has_bracket && rest.find_first_of("[]") != std::string_view::npos) {
        return parse_error::bad_request_target;
    }
    return parse_error::none;
}

// Moves a view from the bytes at `old_base` to the same offset from `base`.
void move_view(std::string_view& s, std::uintptr_t old_base, const char* base) noexcept {
    if (s.data() == nullptr) return;
    auto offset = reinterpret_cast<std::uintptr_t>(s.data()) - old_base;
    s = std::string_view(base + offset, s.size());
}

}  // namespace

std::string_view request_head::field(std::string_view name) const noexcept {
    for (const header_field& f : fields) {
        if (f.name.size() != name.size()) continue;
        bool same = true;
        for (std::size_t i = 0; i < name.size() && same; ++i) {
            same = syntax::lower(f.name[i]) == syntax::lower(name[i]);
        }
        if (same) return f.value;
    }
    return {};
}

request_parser::request_parser(const parser_limits& limits) noexcept : limits_(limits) {
    limits_.max_fields = std::min(limits_.max_fields, field_capacity);
}

void request_parser::reset() noexcept {
    phase_ = phase::request_line;
    line_start_ = scan_from_ = block_start_ = 0;
    content_length_ = 0;
    host_count_ = 0;
    content_length_seen_ = te_seen_ = te_last_chunked_ = te_chunked_twice_ = false;
    te_unknown_ = te_bad_ = conn_close_ = conn_keep_alive_ = expect_continue_ = false;
    error_ = parse_error::none;
    field_count_ = 0;
    host_value_ = {};
    authority_ = {};
    head_ = request_head{};
}

parse_result request_parser::fail(parse_error e) noexcept {
    phase_ = phase::failed;
    error_ = e;
    return {parse_status::error, 0, e};
}

void request_parser::rebase(const char* base) noexcept {
    const std::uintptr_t old = base_;
    base_ = reinterpret_cast<std::uintptr_t>(base);
    if (old == 0) return;
    move_view(head_.method, old, base);
    move_view(head_.target, old, base);
    move_view(host_value_, old, base);
    move_view(authority_, old, base);
    for (std::size_t i = 0; i < field_count_; ++i) {
        move_view(fields_[i].name, old, base);
        move_view(fields_[i].value, old, base);
    }
}

parse_result request_parser::parse(std::string_view in) noexcept {
    if (phase_ == phase::done) {
        reset();
    } else if (phase_ == phase::failed) {
        return {parse_status::error, 0, error_};
    }
    const char* const base = in.data();
    if (reinterpret_cast<std::uintptr_t>(base) != base_) rebase(base);
    const std::size_t size = in.size();
    for (;;) {
        const bool in_fields = phase_ == phase::fields;
        // The line's LF must lie before `window`: past it, the line is over its limit.
        const std::size_t window =
            in_fields ? block_start_ + limits_.max_header_block : limits_.max_request_line + 2;
        const std::size_t stop = std::min(size, window);
        const char* lf = nullptr;
        if (scan_from_ < stop) {
            lf = static_cast<const char*>(std::memchr(base + scan_from_, '\n', stop - scan_from_));
        }
        const char* line = base + line_start_;
        if (lf == nullptr) {
            if (size < window) {
                scan_from_ = stop;
                return {parse_status::incomplete, 0, parse_error::none};
            }
            // No LF within the limit: over-long, unless a syntax error comes first. The bound
            // excludes the CR position so the verdict depends on the bytes within the window only.
            if (in_fields) {
                const char* bound = base + window - 1;
                if (field_count_ == limits_.max_fields && line < bound) {
                    return fail(parse_error::too_many_fields);
                }
                header_field ignored;
                auto e = syntax::parse_field_line(line, bound, bound, false, field_count_ == 0,
                                                  parse_error::header_block_too_large, ignored);
                return fail(e);
            }
            const char* bound = base + limits_.max_request_line;
            if (line >= bound) return fail(parse_error::request_line_too_long);
            return fail(parse_request_line(line, bound, false));
        }
        const auto next = static_cast<std::size_t>(lf - base) + 1;
        if (lf == line || lf[-1] != '\r') return fail(parse_error::bare_lf);
        const char* cr = lf - 1;
        if (cr == line) {
            if (!in_fields) {
                // Empty lines before the request line are ignored (RFC 9112 §2.2).
                line_start_ = scan_from_ = next;
                continue;
            }
            phase_ = phase::done;
            const parse_error e = finish();
            if (e != parse_error::none) {
                phase_ = phase::failed;
                error_ = e;
                return {parse_status::error, 0, e};
            }
            return {parse_status::complete, next, parse_error::none};
        }
        const parse_error e = in_fields ? parse_field(line, cr, base + size)
                                        : parse_request_line(line, cr, true);
        if (e != parse_error::none) return fail(e);
        if (!in_fields) {
            phase_ = phase::fields;
            block_start_ = next;
        }
        line_start_ = scan_from_ = next;
    }
}

// request-line = method SP request-target SP HTTP-version (RFC 9112 §3), in [p, end). `end` is the
// line's CR when `has_eol`, else the limit it ran into.
parse_error request_parser::parse_request_line(const char* p, const char* end,
                                               bool has_eol) noexcept {
    const parse_error too_long = parse_error::request_line_too_long;
    const char* method = p;
    while (p < end && is(*p, syntax::tchar)) ++p;
    if (p == end) return has_eol ? parse_error::bad_request_line : too_long;
    if (*p != ' ') return syntax::unexpected(p, end, parse_error::bad_method);
    if (p == method) return parse_error::bad_method;
    head_.method = std::string_view(method, static_cast<std::size_t>(p - method));
    ++p;

    const char* target = p;
    bool has_bracket = false;
    for (;;) {
        while (p < end && is(*p, syntax::target)) ++p;
        if (p == end) break;
        if (*p == '%') {
            if (end - p < 3) return has_eol ? parse_error::bad_request_target : too_long;
            if (!is(p[1], syntax::hex) || !is(p[2], syntax::hex)) {
                return parse_error::bad_request_target;
            }
            p += 3;
        } else if (*p == '[' || *p == ']') {
            has_bracket = true;
            ++p;
        } else {
            break;
        }
    }
    if (p == end) return has_eol ? parse_error::bad_request_line : too_long;
    if (*p != ' ') return syntax::unexpected(p, end, parse_error::bad_request_target);
    if (p == target) return parse_error::bad_request_target;
    head_.target = std::string_view(target, static_cast<std::size_t>(p - target));
    ++p;

    // HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3), case-sensitive. The common
    // "HTTP/1." is compared at once; the loop then checks the minor digit only.
    constexpr std::string_view shape = "HTTP/0.0";
    std::size_t i = 0;
    if (end - p >= 8 && std::memcmp(p, "HTTP/1.", 7) == 0) i = 7;
    for (; i < shape.size(); ++i) {
        if (p + i == end) return has_eol ? parse_error::bad_version : too_long;
        const char c = p[i];
        const bool ok = shape[i] == '0' ? (c >= '0' && c <= '9') : c == shape[i];
        if (!ok) return syntax::unexpected(p + i, end, parse_error::bad_version);
    }
    const char major = p[5];
    const char minor = p[7];
    p += shape.size();
    if (p != end) return syntax::unexpected(p, end, parse_error::bad_request_line);
    if (!has_eol) return too_long;
    if (major != '1' || (minor != '0' && minor != '1')) return parse_error::unsupported_version;
    head_.version_minor = static_cast<std::uint8_t>(minor - '0');
    return classify_target(head_.method, head_.target, has_bracket, head_.form, authority_);
}

parse_error request_parser::parse_field(const char* p, const char* end,
                                        const char* read_end) noexcept {
    if (field_count_ == limits_.max_fields) return parse_error::too_many_fields;
    header_field& f = fields_[field_count_];
    const parse_error e = syntax::parse_field_line(p, end, read_end, true, field_count_ == 0,
                                                   parse_error::header_block_too_large, f);
    if (e != parse_error::none) return e;
    ++field_count_;
    return apply_field(f);
}

// Records what the fields that decide framing, persistence and the authority say (RFC 9112 §6,
// §9.3, §3.2; RFC 9110 §10.1.1). Names are matched ignoring case (RFC 9110 §5.1).
parse_error request_parser::apply_field(const header_field& f) noexcept {
    const std::string_view v = f.value;
    switch (f.name.size()) {
    case 4:
        if (syntax::iequals(f.name, "host")) {
            ++host_count_;
            host_value_ = v;
        }
        break;
    case 6:
        if (syntax::iequals(f.name, "expect")) {
            syntax::for_each_list_element(v, [this](std::string_view el) {
                if (syntax::iequals(el, "100-continue")) expect_continue_ = true;
                return true;
            });
        }
        break;
    case 10:
        if (syntax::iequals(f.name, "connection")) {
            syntax::for_each_list_element(v, [this](std::string_view el) {
                if (syntax::iequals(el, "close")) conn_close_ = true;
                if (syntax::iequals(el, "keep-alive")) conn_keep_alive_ = true;
                return true;
            });
        }
        break;
    case 14:
        if (syntax::iequals(f.name, "content-length")) {
            // Content-Length = 1*DIGIT; a list or repeated field is accepted only when every
            // member is the same number (RFC 9110 §8.6); anything else is unrecoverable framing
            // (RFC 9112 §6.3 item 5).
            bool ok = true;
            syntax::for_each_list_element(v, [this, &ok](std::string_view el) {
                std::uint64_t n = 0;
                ok = !el.empty();
                for (char c : el) {
                    if (c < '0' || c > '9' || n > (UINT64_MAX - 9) / 10) {
                        ok = false;
                        break;
                    }
                    n = n * 10 + static_cast<std::uint64_t>(c - '0');
                }
                if (ok && content_length_seen_ && n != content_length_) ok = false;
                content_length_seen_ = true;
                content_length_ = n;
                return ok;
            });
            if (!ok) return parse_error::bad_content_length;
        }
        break;
    case 17:
        if (syntax::iequals(f.name, "transfer-encoding")) {
            // transfer-coding list, possibly over several lines (RFC 9112 §6.1, §7); empty
            // elements are ignored (RFC 9110 §5.6.1.2) but a field with none is invalid.
            bool any = false;
            syntax::for_each_list_element(v, [this, &any](std::string_view el) {
                if (el.empty()) return true;
                any = true;
                te_seen_ = true;
                if (te_last_chunked_) te_chunked_twice_ = true;
                if (syntax::iequals(el, "chunked")) {
                    te_last_chunked_ = true;
                    return true;
                }
                te_last_chunked_ = false;
                std::size_t name_end = 0;
                while (name_end < el.size() && is(el[name_end], syntax::tchar)) ++name_end;
                if (name_end == 0 || !syntax::valid_parameters(el.substr(name_end), true)) {
                    te_bad_ = true;
                } else {
                    te_unknown_ = true;
                }
                return true;
            });
            if (!any || te_bad_) return parse_error::bad_transfer_encoding;
        }
        break;
    default: break;
    }
    return parse_error::none;
}

// The head is complete: decide the framing, persistence and authority, then check Host.
parse_error request_parser::finish() noexcept {
    head_.fields = std::span<const header_field>(fields_, field_count_);
    const bool http10 = head_.version_minor == 0;
    if (te_seen_) {
        // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
        if (http10) return parse_error::transfer_encoding_in_http10;
        // RFC 9112 §6.3 item 3: both may be an attempt at request smuggling.
        if (content_length_seen_) return parse_error::content_length_with_transfer_encoding;
        // RFC 9112 §6.3 item 4 (final coding not chunked) and §7 (chunked at most once).
        if (!te_last_chunked_ || te_chunked_twice_) return parse_error::chunked_not_final;
        // RFC 9112 §6.1: a coding the server does not understand gets 501. Only chunked is
        // implemented; a server that wants gzip would have to decode it itself.
        if (te_unknown_) return parse_error::unknown_transfer_coding;
        head_.framing = body_framing::chunked;
    } else if (content_length_seen_) {
        // Refused before reading any of it (RFC 9110 §15.5.14).
        if (content_length_ > limits_.max_body) return parse_error::body_too_large;
        head_.framing = body_framing::content_length;
        head_.content_length = content_length_;
    }
    head_.keep_alive = !conn_close_ && (!http10 || conn_keep_alive_);
    head_.expect_continue = expect_continue_ && !http10;
    head_.host = head_.form == target_form::absolute && authority_.data() != nullptr
                     ? authority_
                     : host_value_;
    // RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host, for any request with more than one
    // Host field line, and for an invalid Host value. The head is complete by now (must_close).
    if (host_count_ > 1) return parse_error::duplicate_host;
    if (host_count_ == 0 && !http10) return parse_error::missing_host;
    if (host_count_ == 1 && !syntax::valid_authority(host_value_, false)) {
        return parse_error::bad_host;
    }
    return parse_error::none;
}

}  // namespace coil::http
