#include "tests/fuzz/differential.hpp"

#include <http_parser.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include "coil/http/parser/chunked_decoder.hpp"
#include "coil/http/parser/request_parser.hpp"

namespace coil::fuzz {

namespace {

using fields_t = std::vector<std::pair<std::string, std::string>>;

enum class outcome { accepted, rejected, incomplete };

struct message {
    outcome result = outcome::incomplete;
    std::string method;
    std::string target;
    int version_minor = -1;
    fields_t fields;
    fields_t trailers;
    std::string body;
    std::string error;  // http-parser's errno name or coil's parse_error description
    http::parse_error coil_error = http::parse_error::none;
};

// ---- libhttp-parser -----------------------------------------------------------------------------

struct hp_state {
    message m;
    bool in_value = false;
    bool headers_done = false;
    bool complete = false;
    fields_t& list() { return headers_done ? m.trailers : m.fields; }
};

hp_state& state(http_parser* p) { return *static_cast<hp_state*>(p->data); }

int on_url(http_parser* p, const char* at, size_t n) {
    state(p).m.target.append(at, n);
    return 0;
}
int on_header_field(http_parser* p, const char* at, size_t n) {
    auto& s = state(p);
    if (s.in_value || s.list().empty()) s.list().emplace_back();
    s.in_value = false;
    s.list().back().first.append(at, n);
    return 0;
}
int on_header_value(http_parser* p, const char* at, size_t n) {
    auto& s = state(p);
    s.in_value = true;
    s.list().back().second.append(at, n);
    return 0;
}
int on_headers_complete(http_parser* p) {
    auto& s = state(p);
    s.headers_done = true;
    s.in_value = false;
    return 0;
}
int on_body(http_parser* p, const char* at, size_t n) {
    state(p).m.body.append(at, n);
    return 0;
}
int on_message_complete(http_parser* p) {
    state(p).complete = true;
    http_parser_pause(p, 1);  // the first request only
    return 0;
}

message run_http_parser(std::string_view in) {
    http_parser_settings settings{};
    settings.on_url = on_url;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
    http_parser parser;
    http_parser_init(&parser, HTTP_REQUEST);
    hp_state s;
    parser.data = &s;
    http_parser_execute(&parser, &settings, in.data(), in.size());
    const auto err = HTTP_PARSER_ERRNO(&parser);
    if (s.complete) {
        s.m.result = outcome::accepted;
        s.m.method = http_method_str(static_cast<http_method>(parser.method));
        s.m.version_minor = parser.http_major == 1 ? parser.http_minor : -1;
    } else if (err != HPE_OK) {
        s.m.result = outcome::rejected;
        s.m.error = http_errno_name(err);
    }
    // http-parser 2.9 keeps the whitespace after a field value; RFC 9112 §5 says it is not part
    // of the value (field-line = field-name ":" OWS field-value OWS), and coil drops it.
    for (fields_t* list : {&s.m.fields, &s.m.trailers}) {
        for (auto& f : *list) {
            while (!f.second.empty() && (f.second.back() == ' ' || f.second.back() == '\t')) {
                f.second.pop_back();
            }
        }
    }
    return std::move(s.m);
}

// ---- coil ---------------------------------------------------------------------------------------

message run_coil(std::string_view in) {
    message m;
    http::request_parser parser;
    auto r = parser.parse(in);
    if (r.status == http::parse_status::incomplete) return m;
    if (r.status == http::parse_status::error) {
        m.result = outcome::rejected;
        m.coil_error = r.error;
        m.error = http::describe(r.error);
        return m;
    }
    const auto& h = parser.head();
    m.method = h.method;
    m.target = h.target;
    m.version_minor = h.version_minor;
    for (const auto& f : h.fields) m.fields.emplace_back(f.name, f.value);
    std::string_view rest = in.substr(r.consumed);
    if (h.framing == http::body_framing::content_length) {
        if (rest.size() < h.content_length) return m;
        m.body = rest.substr(0, h.content_length);
    } else if (h.framing == http::body_framing::chunked) {
        http::chunked_decoder dec;
        for (;;) {
            auto c = dec.decode(rest);
            rest.remove_prefix(c.consumed);
            if (c.status == http::chunk_status::data) {
                m.body += c.data;
            } else if (c.status == http::chunk_status::trailer_field) {
                m.trailers.emplace_back(c.trailer.name, c.trailer.value);
            } else if (c.status == http::chunk_status::done) {
                break;
            } else if (c.status == http::chunk_status::incomplete) {
                return m;
            } else {
                m.result = outcome::rejected;
                m.coil_error = c.error;
                m.error = http::describe(c.error);
                return m;
            }
        }
    }
    m.result = outcome::accepted;
    return m;
}

// ---- explanations -------------------------------------------------------------------------------

// Why coil refuses what http-parser accepts: each coil error is the RFC rule it enforces.
const char* rule_of(http::parse_error e) {
    using E = http::parse_error;
    switch (e) {
    case E::bad_method: return "RFC 9110 §9.1: method = token";
    case E::bad_request_target: return "RFC 9112 §3.2: the four request-target forms; RFC 3986 §2";
    case E::bad_request_line: return "RFC 9112 §3: method SP request-target SP HTTP-version";
    case E::bad_version: return "RFC 9112 §2.3: HTTP-version is case-sensitive HTTP/DIGIT.DIGIT";
    case E::bare_cr: return "RFC 9112 §2.2: a bare CR MUST be rejected or replaced by SP";
    case E::bare_lf: return "RFC 9112 §2.2: CRLF is the line terminator (bare LF only MAY be accepted)";
    case E::control_byte: return "RFC 9110 §5.5: field values hold no CTL but HTAB; §5.6.2 tokens";
    case E::whitespace_before_colon: return "RFC 9112 §5.1: MUST reject whitespace before the colon";
    case E::obs_fold: return "RFC 9112 §5.2: obs-fold MAY be rejected with 400";
    case E::leading_whitespace: return "RFC 9112 §2.2: whitespace before the first field line";
    case E::bad_field_name: return "RFC 9110 §5.1: field-name = token";
    case E::missing_colon: return "RFC 9112 §5: field-line = field-name \":\" OWS field-value OWS";
    case E::bad_content_length: return "RFC 9110 §8.6, RFC 9112 §6.3 item 5: Content-Length = 1*DIGIT";
    case E::content_length_with_transfer_encoding: return "RFC 9112 §6.3 item 3: both present";
    case E::chunked_not_final: return "RFC 9112 §6.3 item 4, §7: chunked final and once";
    case E::bad_transfer_encoding: return "RFC 9112 §6.1: Transfer-Encoding = #transfer-coding";
    case E::transfer_encoding_in_http10: return "RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0";
    case E::missing_host: return "RFC 9112 §3.2: HTTP/1.1 without Host gets 400";
    case E::duplicate_host: return "RFC 9112 §3.2: more than one Host gets 400";
    case E::bad_host: return "RFC 9112 §3.2, RFC 9110 §7.2: Host = uri-host [\":\" port]";
    case E::bad_chunk_size: return "RFC 9112 §7.1: chunk-size = 1*HEXDIG";
    case E::bad_chunk_extension: return "RFC 9112 §7.1.1: chunk-ext grammar";
    case E::bad_chunk_framing: return "RFC 9112 §7.1: chunk-data CRLF";
    case E::chunk_line_too_long: return "limit: max_chunk_line";
    case E::unknown_transfer_coding: return "RFC 9112 §6.1: 501 for an unimplemented coding";
    case E::unsupported_version: return "RFC 9110 §15.6.6: 505; coil serves HTTP/1.0 and 1.1";
    case E::request_line_too_long: return "limit: max_request_line (414)";
    case E::header_block_too_large: return "limit: max_header_block (431)";
    case E::too_many_fields: return "limit: max_fields (431)";
    case E::body_too_large: return "limit: max_body (413)";
    case E::none: break;
    }
    return nullptr;
}

bool same_name(std::string_view name, std::string_view lower) {
    return name.size() == lower.size() &&
           std::equal(lower.begin(), lower.end(), name.begin(),
                      [](char a, char b) { return a == (b | 0x20); });
}

// Why http-parser refuses what coil accepts. Each entry is a rule of RFC 9110/9112 that coil
// follows and http-parser 2.9 does not; nullptr means no known reason.
// Whether a field line of `in` named `name_colon` ("transfer-encoding:") has whitespace after its
// value.
bool field_value_has_trailing_ows(std::string_view in, std::string_view name_colon) {
    for (std::size_t at = 0; (at = in.find('\n', at)) != std::string_view::npos;) {
        const std::size_t start = ++at;
        const std::size_t eol = in.find('\r', start);
        if (eol == std::string_view::npos) return false;
        const std::string_view line = in.substr(start, eol - start);
        if (line.size() > name_colon.size() && same_name(line.substr(0, name_colon.size()), name_colon) &&
            (line.back() == ' ' || line.back() == '\t')) {
            return true;
        }
    }
    return false;
}

// Whether a chunk-size in the body of `in` is followed by whitespace and then ';' (a chunk
// extension after BWS).
bool chunk_size_has_bws_before_extension(std::string_view in) {
    const std::size_t body = in.find("\r\n\r\n");
    if (body == std::string_view::npos) return false;
    for (std::size_t i = body + 4; i + 1 < in.size(); ++i) {
        if (!std::isxdigit(static_cast<unsigned char>(in[i]))) continue;
        std::size_t j = i + 1;
        while (j < in.size() && (in[j] == ' ' || in[j] == '\t')) ++j;
        if (j > i + 1 && j < in.size() && in[j] == ';') return true;
    }
    return false;
}

const char* hp_rule_of(const std::string& hp_errno, const message& coil, std::string_view in) {
    if (hp_errno == "HPE_INVALID_METHOD") {
        // http-parser knows a fixed list of methods; RFC 9110 §9.1: any token is a method, and
        // an unknown one is the server's 501, not a parse error.
        return "RFC 9110 §9.1: method = token (http-parser knows a fixed list)";
    }
    if (hp_errno == "HPE_INVALID_URL" && !coil.target.empty() && coil.target[0] != '/') {
        // coil accepted an absolute-form target that RFC 3986 §3 allows and http-parser's URL
        // parser does not: a scheme with digits, '+', '-' or '.' (§3.1), or a hier-part without
        // "//" authority (path-rootless, §3). Origin-form targets must agree.
        return "RFC 3986 §3: absolute-URI (http-parser's URL parser takes a subset)";
    }
    if (hp_errno == "HPE_INVALID_CHUNK_SIZE" && chunk_size_has_bws_before_extension(in)) {
        // chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ): whitespace
        // may come between the size and ';' (RFC 9112 §7.1.1); http-parser 2.9 refuses it
        // (found by the fuzzer).
        return "RFC 9112 §7.1.1: BWS before a chunk extension";
    }
    if ((hp_errno == "HPE_INVALID_TRANSFER_ENCODING" && field_value_has_trailing_ows(in, "transfer-encoding:")) ||
        (hp_errno == "HPE_INVALID_CONTENT_LENGTH" && field_value_has_trailing_ows(in, "content-length:"))) {
        // "Transfer-Encoding: chunked<HTAB>", "Content-Length: 0<HTAB>": the OWS after a field
        // value is not part of it (RFC 9112 §5.1); http-parser 2.9 refuses both (found by the
        // fuzzer).
        return "RFC 9112 §5.1: whitespace after a field value is not part of it";
    }
    if (hp_errno == "HPE_INVALID_TRANSFER_ENCODING") {
        // RFC 9110 §5.6.1.2: a recipient MUST accept (and ignore) empty list elements, as in
        // "Transfer-Encoding: ,chunked"; http-parser refuses them.
        for (const auto& f : coil.fields) {
            if (same_name(f.first, "transfer-encoding") &&
                (f.second.empty() || f.second.front() == ',' || f.second.back() == ',' ||
                 f.second.find(",,") != std::string::npos || f.second.find(", ,") != std::string::npos ||
                 f.second.find(",\t") != std::string::npos)) {
                return "RFC 9110 §5.6.1.2: empty list elements are accepted";
            }
        }
    }
    if (hp_errno == "HPE_INVALID_TRANSFER_ENCODING" || hp_errno == "HPE_INVALID_CONTENT_LENGTH" ||
        hp_errno == "HPE_UNEXPECTED_CONTENT_LENGTH") {
        // http-parser 2.9 takes a field whose name merely begins with "Transfer-Encoding" or
        // "Content-Length" for that field; RFC 9110 §5.1: a field name is the whole token.
        for (const auto& f : coil.trailers) {
            for (std::string_view special : {"transfer-encoding", "content-length"}) {
                if (same_name(f.first, special)) {
                    // RFC 9110 §6.5.1-6.5.2: framing fields cannot apply from a trailer, which
                    // is never merged into the header section; coil hands trailers on apart.
                    return "RFC 9110 §6.5: a framing field in a trailer has no effect";
                }
            }
        }
        for (const auto& f : coil.fields) {
            for (std::string_view special : {"transfer-encoding", "content-length"}) {
                if (f.first.size() > special.size() &&
                    std::equal(special.begin(), special.end(), f.first.begin(),
                               [](char a, char b) { return a == (b | 0x20); })) {
                    return "RFC 9110 §5.1: a field name is a whole token (http-parser matches a prefix)";
                }
            }
        }
    }
    if (hp_errno == "HPE_INVALID_CONTENT_LENGTH" || hp_errno == "HPE_UNEXPECTED_CONTENT_LENGTH") {
        // coil accepted, so every Content-Length member is the same 1*DIGIT: http-parser refuses
        // a list or a repeated field even then; RFC 9110 §8.6 lets a recipient accept it as one.
        int members = 0;
        for (const auto& [name, value] : coil.fields) {
            if (same_name(name, "content-length")) {
                members += 1 + static_cast<int>(std::count(value.begin(), value.end(), ','));
            }
        }
        if (members > 1) return "RFC 9110 §8.6: identical Content-Length values MAY be accepted";
    }
    return nullptr;
}

}  // namespace

verdict compare(std::string_view in) {
    const message c = run_coil(in);
    const message h = run_http_parser(in);
    verdict v;
    if (c.result == outcome::incomplete || h.result == outcome::incomplete) {
        v.kind = verdict::skipped;
        v.category = "incomplete on one side";
        return v;
    }
    if (c.result == outcome::rejected && h.result == outcome::rejected) {
        v.kind = verdict::both_reject;
        v.category = "both reject";
        return v;
    }
    if (c.result == outcome::rejected) {
        v.kind = verdict::only_coil_rejects;
        const char* rule = rule_of(c.coil_error);
        v.explained = rule != nullptr;
        v.category = "coil rejects (" + c.error + "): " + (rule ? rule : "?");
        return v;
    }
    if (h.result == outcome::rejected) {
        v.kind = verdict::only_http_parser_rejects;
        const char* rule = hp_rule_of(h.error, c, in);
        v.explained = rule != nullptr;
        v.category = "http-parser rejects (" + h.error + "): " + (rule ? rule : "?");
        return v;
    }
    v.kind = verdict::both_accept;
    auto differ = [&v](const char* what) {
        v.explained = false;
        v.category = std::string("both accept, but the ") + what + " differs";
        return v;
    };
    if (c.method != h.method) return differ("method");
    if (c.target != h.target) return differ("target");
    if (c.version_minor != h.version_minor) return differ("version");
    if (c.fields != h.fields) return differ("header fields");
    if (c.body != h.body) return differ("body");
    if (c.trailers != h.trailers) return differ("trailers");
    v.category = "both accept and agree";
    return v;
}

}  // namespace coil::fuzz
