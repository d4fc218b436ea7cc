#include "coil/http/parser/request_parser.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/http/guarded_buffer.hpp"

namespace {

using coil::http::body_framing;
using coil::http::must_close;
using coil::http::parse_error;
using coil::http::parse_status;
using coil::http::parser_limits;
using coil::http::request_parser;
using coil::http::status_of;
using coil::http::target_form;
using coil::testing::guarded_buffer;

// Parses `text` in one call, from a buffer that ends at an inaccessible page.
struct parsed {
    explicit parsed(std::string_view text, const parser_limits& limits = {})
        : buffer(std::make_unique<guarded_buffer>(text)), parser(std::make_unique<request_parser>(limits)),
          result(parser->parse(buffer->view())) {}
    std::unique_ptr<guarded_buffer> buffer;
    std::unique_ptr<request_parser> parser;
    coil::http::parse_result result;
    const coil::http::request_head& head() const { return parser->head(); }
};

parse_error error_of(std::string_view text, const parser_limits& limits = {}) {
    parsed p(text, limits);
    EXPECT_EQ(p.result.status, p.result.error == parse_error::none ? parse_status::complete
                                                                   : parse_status::error);
    return p.result.error;
}

std::string get_with(std::string_view fields) {
    return "GET / HTTP/1.1\r\nHost: example.com\r\n" + std::string(fields) + "\r\n";
}

std::string post_with(std::string_view fields) {
    return "POST /upload HTTP/1.1\r\nHost: example.com\r\n" + std::string(fields) + "\r\n";
}

// ---- what is accepted -------------------------------------------------------------------------

TEST(RequestParserTest, ParsesGetIntoViewsOfTheBuffer) {
    const std::string text =
        "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: wrk\r\n"
        "Accept: */*\r\n\r\n";
    parsed p(text);
    ASSERT_EQ(p.result.status, parse_status::complete);
    EXPECT_EQ(p.result.consumed, text.size());
    const auto& h = p.head();
    EXPECT_EQ(h.method, "GET");
    EXPECT_EQ(h.target, "/index.html?q=1");
    EXPECT_EQ(h.form, target_form::origin);
    EXPECT_EQ(h.version_minor, 1);
    ASSERT_EQ(h.fields.size(), 3u);
    EXPECT_EQ(h.fields[1].name, "User-Agent");
    EXPECT_EQ(h.fields[1].value, "wrk");
    EXPECT_EQ(h.host, "example.com");
    EXPECT_EQ(h.framing, body_framing::none);
    EXPECT_TRUE(h.keep_alive);
    EXPECT_FALSE(h.expect_continue);
    // Views, not copies: they point into the buffer given to parse().
    const auto in = p.buffer->view();
    EXPECT_EQ(h.method.data(), in.data());
    EXPECT_EQ(h.fields[2].value.data(), in.data() + text.find("*/*"));
}

TEST(RequestParserTest, TrimsWhitespaceAroundFieldValues) {
    parsed p(get_with("X-A: \t padded \t \r\nX-B:\r\nX-C:a  b\r\n"));
    ASSERT_EQ(p.result.status, parse_status::complete);
    EXPECT_EQ(p.head().field("x-a"), "padded");
    EXPECT_EQ(p.head().field("X-B"), "");
    EXPECT_NE(p.head().field("X-B").data(), nullptr);
    EXPECT_EQ(p.head().field("x-c"), "a  b");
    EXPECT_EQ(p.head().field("X-Missing").data(), nullptr);
}

TEST(RequestParserTest, AcceptsObsTextAndHtabInFieldValues) {
    parsed p(get_with("X-Latin: caf\xe9\tau lait\r\n"));
    ASSERT_EQ(p.result.status, parse_status::complete);
    EXPECT_EQ(p.head().field("X-Latin"), "caf\xe9\tau lait");
}

TEST(RequestParserTest, AcceptsEmptyLinesBeforeRequestLine) {
    const std::string text = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    parsed p(text);
    ASSERT_EQ(p.result.status, parse_status::complete);
    EXPECT_EQ(p.result.consumed, text.size());
    EXPECT_EQ(p.head().method, "GET");
}

TEST(RequestParserTest, AcceptsAbsoluteFormAndTakesTheAuthorityFromIt) {
    parsed p("GET http://origin.example:8080/a?b HTTP/1.1\r\nHost: other.example\r\n\r\n");
    ASSERT_EQ(p.result.status, parse_status::complete);
    EXPECT_EQ(p.head().form, target_form::absolute);
    EXPECT_EQ(p.head().target, "http://origin.example:8080/a?b");
    EXPECT_EQ(p.head().host, "origin.example:8080");  // RFC 9112 §3.3: the target's authority
}

TEST(RequestParserTest, AcceptsAuthorityFormForConnectOnly) {
    parsed p("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    ASSERT_EQ(p.result.status, parse_status::complete);
    EXPECT_EQ(p.head().form, target_form::authority);
    EXPECT_EQ(error_of("CONNECT /path HTTP/1.1\r\nHost: a\r\n\r\n"), parse_error::bad_request_target);
    EXPECT_EQ(error_of("CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n"),
              parse_error::bad_request_target);
}

TEST(RequestParserTest, AcceptsAsteriskFormForOptionsOnly) {
    parsed p("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_EQ(p.result.status, parse_status::complete);
    EXPECT_EQ(p.head().form, target_form::asterisk);
    EXPECT_EQ(error_of("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), parse_error::bad_request_target);
}

TEST(RequestParserTest, AcceptsAnyTokenAsMethod) {
    parsed p("M-SEARCH!x / HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_EQ(p.result.status, parse_status::complete);
    EXPECT_EQ(p.head().method, "M-SEARCH!x");
}

TEST(RequestParserTest, KeepAliveFollowsVersionAndConnectionTokens) {
    EXPECT_TRUE(parsed("GET / HTTP/1.1\r\nHost: a\r\n\r\n").head().keep_alive);
    EXPECT_FALSE(parsed(get_with("Connection: Upgrade, CLOSE\r\n")).head().keep_alive);
    EXPECT_FALSE(parsed("GET / HTTP/1.0\r\n\r\n").head().keep_alive);
    EXPECT_TRUE(parsed("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").head().keep_alive);
    EXPECT_FALSE(parsed("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").head().keep_alive);
}

TEST(RequestParserTest, ExpectContinueOnHttp11Only) {
    EXPECT_TRUE(parsed(post_with("Expect: 100-Continue\r\nContent-Length: 3\r\n")).head().expect_continue);
    EXPECT_FALSE(parsed("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
                     .head()
                     .expect_continue);
}

TEST(RequestParserTest, ContentLengthDecidesFraming) {
    parsed p(post_with("Content-Length: 0042\r\n"));
    ASSERT_EQ(p.result.status, parse_status::complete);
    EXPECT_EQ(p.head().framing, body_framing::content_length);
    EXPECT_EQ(p.head().content_length, 42u);
}

TEST(RequestParserTest, AcceptsRepeatedIdenticalContentLength) {
    parsed p(post_with("Content-Length: 5, 5\r\nContent-Length: 5\r\n"));
    ASSERT_EQ(p.result.status, parse_status::complete);
    EXPECT_EQ(p.head().content_length, 5u);
}

TEST(RequestParserTest, ChunkedDecidesFraming) {
    parsed p(post_with("Transfer-Encoding: CHUNKED\r\n"));
    ASSERT_EQ(p.result.status, parse_status::complete);
    EXPECT_EQ(p.head().framing, body_framing::chunked);
}

TEST(RequestParserTest, HttpTenNeedsNoHost) {
    parsed p("GET / HTTP/1.0\r\n\r\n");
    ASSERT_EQ(p.result.status, parse_status::complete);
    EXPECT_EQ(p.head().version_minor, 0);
    EXPECT_TRUE(p.head().host.empty());
}

TEST(RequestParserTest, AcceptsEmptyHostAndIpLiteralHost) {
    EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost:\r\n\r\n"), parse_error::none);
    EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), parse_error::none);
}

// ---- pipelining and incremental parsing -------------------------------------------------------

TEST(RequestParserTest, ParsesPipelinedRequestsFromOneBuffer) {
    const std::string one = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
    const std::string two = "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody";
    const std::string three = "GET /3 HTTP/1.1\r\nHost: a\r\n\r\n";
    guarded_buffer buf(one + two + three);
    request_parser parser;
    std::string_view in = buf.view();
    std::vector<std::string> targets;
    for (int i = 0; i < 3; ++i) {
        auto r = parser.parse(in);
        ASSERT_EQ(r.status, parse_status::complete) << i;
        targets.emplace_back(parser.head().target);
        in.remove_prefix(r.consumed + parser.head().content_length);
    }
    EXPECT_EQ(targets, (std::vector<std::string>{"/1", "/2", "/3"}));
    EXPECT_TRUE(in.empty());
    EXPECT_EQ(parser.parse(in).status, parse_status::incomplete);
}

// Every prefix, each in its own buffer at a new address (so the parser must move its views), gives
// incomplete, then the same head as one call does; the guard page checks every call for over-reads.
void expect_split_matches_one_shot(const std::string& text) {
    parsed whole(text);
    request_parser parser;
    std::vector<std::unique_ptr<guarded_buffer>> buffers;
    coil::http::parse_result r;
    for (std::size_t n = 0; n <= text.size(); ++n) {
        buffers.push_back(std::make_unique<guarded_buffer>(std::string_view(text).substr(0, n)));
        r = parser.parse(buffers.back()->view());
        if (r.status != parse_status::incomplete) break;
        if (buffers.size() > 1) buffers.erase(buffers.begin());  // the old bytes are gone
    }
    ASSERT_EQ(r.status, whole.result.status) << text;
    EXPECT_EQ(r.error, whole.result.error);
    EXPECT_EQ(r.consumed, whole.result.consumed);
    if (r.status != parse_status::complete) return;
    const auto& a = parser.head();
    const auto& b = whole.head();
    EXPECT_EQ(a.method, b.method);
    EXPECT_EQ(a.target, b.target);
    EXPECT_EQ(a.host, b.host);
    ASSERT_EQ(a.fields.size(), b.fields.size());
    for (std::size_t i = 0; i < a.fields.size(); ++i) {
        EXPECT_EQ(a.fields[i].name, b.fields[i].name);
        EXPECT_EQ(a.fields[i].value, b.fields[i].value);
        EXPECT_EQ(a.fields[i].value.data(), buffers.back()->view().data() + (b.fields[i].value.data() - whole.buffer->view().data()));
    }
}

TEST(RequestParserTest, ByteByByteInMovingBuffersEqualsOneCall) {
    expect_split_matches_one_shot(
        "\r\nPOST http://h.example/x HTTP/1.1\r\nHost: h.example\r\nContent-Length: 3\r\n"
        "Connection: close\r\nX-Empty:\r\n\r\n");
    expect_split_matches_one_shot("GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n");
    expect_split_matches_one_shot("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n");
    expect_split_matches_one_shot("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
}

TEST(RequestParserTest, ErrorIsRepeatedUntilReset) {
    request_parser parser;
    const std::string bad = "GET / HTTP/1.1\r\nHost: a\r\nX : y\r\n\r\n";
    EXPECT_EQ(parser.parse(bad).error, parse_error::whitespace_before_colon);
    EXPECT_EQ(parser.parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n").error,
              parse_error::whitespace_before_colon);
    parser.reset();
    EXPECT_EQ(parser.parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, parse_status::complete);
}

// ---- 400: the request line --------------------------------------------------------------------

TEST(RequestParserTest, RejectsInvalidMethodToken) {
    EXPECT_EQ(error_of("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), parse_error::bad_method);
    EXPECT_EQ(error_of(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"), parse_error::bad_method);
    EXPECT_EQ(error_of("GE\"T / HTTP/1.1\r\nHost: a\r\n\r\n"), parse_error::bad_method);
    EXPECT_EQ(status_of(parse_error::bad_method).code, 400);
}

TEST(RequestParserTest, RejectsInvalidRequestTarget) {
    for (const char* target : {"/a b", "/a\"b", "/a<b>", "/%zz", "/%4", "/a#frag", "/[x]",
                               "noscheme", "http:/nohost", "http:///path", "1http://a/",
                               "http://user@host/", "http://a b/"}) {
        std::string text = std::string("GET ") + target + " HTTP/1.1\r\nHost: a\r\n\r\n";
        const auto e = error_of(text);
        EXPECT_TRUE(e == parse_error::bad_request_target || e == parse_error::bad_version ||
                    e == parse_error::bad_request_line)
            << target << " gave " << coil::http::describe(e);
        EXPECT_EQ(status_of(e).code, 400) << target;
    }
    EXPECT_EQ(error_of("GET /a<b HTTP/1.1\r\nHost: a\r\n\r\n"), parse_error::bad_request_target);
    EXPECT_EQ(error_of("GET /%g0 HTTP/1.1\r\nHost: a\r\n\r\n"), parse_error::bad_request_target);
}

TEST(RequestParserTest, RejectsRequestLineWithoutSingleSpaces) {
    EXPECT_EQ(error_of("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), parse_error::bad_request_target);
    EXPECT_EQ(error_of("GET /\r\n\r\n"), parse_error::bad_request_line);  // HTTP/0.9
    EXPECT_EQ(error_of("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), parse_error::bad_request_line);
    EXPECT_EQ(error_of("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"), parse_error::bad_method);
}

TEST(RequestParserTest, RejectsMalformedVersion) {
    EXPECT_EQ(error_of("GET / http/1.1\r\nHost: a\r\n\r\n"), parse_error::bad_version);
    EXPECT_EQ(error_of("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), parse_error::bad_request_line);
    EXPECT_EQ(error_of("GET / HTTP/1\r\nHost: a\r\n\r\n"), parse_error::bad_version);
    EXPECT_EQ(error_of("GET / HTTP/a.1\r\nHost: a\r\n\r\n"), parse_error::bad_version);
}

// ---- 400: bytes -------------------------------------------------------------------------------

TEST(RequestParserTest, RejectsBareCr) {
    EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"), parse_error::bare_cr);
    EXPECT_EQ(error_of("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n"), parse_error::bare_cr);
    EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: a\r\nX\r: b\r\n\r\n"), parse_error::bare_cr);
}

TEST(RequestParserTest, RejectsBareLf) {
    EXPECT_EQ(error_of("GET / HTTP/1.1\nHost: a\r\n\r\n"), parse_error::bare_lf);
    EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: a\n\r\n"), parse_error::bare_lf);
    EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: a\r\n\n"), parse_error::bare_lf);
}

TEST(RequestParserTest, RejectsNulByte) {
    using namespace std::string_literals;
    EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"s), parse_error::control_byte);
    EXPECT_EQ(error_of("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n"s), parse_error::control_byte);
    EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: a\r\nX\0: b\r\n\r\n"s), parse_error::control_byte);
}

TEST(RequestParserTest, RejectsOtherControlBytes) {
    EXPECT_EQ(error_of(get_with("X: a\x01z\r\n")), parse_error::control_byte);
    EXPECT_EQ(error_of(get_with("X: a\x7fz\r\n")), parse_error::control_byte);
    EXPECT_EQ(error_of(get_with("X: \x1b[0m\r\n")), parse_error::control_byte);
    EXPECT_EQ(error_of("G\x02T / HTTP/1.1\r\nHost: a\r\n\r\n"), parse_error::control_byte);
}

// ---- 400: field lines -------------------------------------------------------------------------

TEST(RequestParserTest, RejectsWhitespaceBetweenFieldNameAndColon) {
    EXPECT_EQ(error_of(get_with("Content-Length : 0\r\n")), parse_error::whitespace_before_colon);
    EXPECT_EQ(error_of(get_with("X\t: y\r\n")), parse_error::whitespace_before_colon);
}

TEST(RequestParserTest, RejectsObsFold) {
    EXPECT_EQ(error_of(get_with("X: a\r\n b\r\n")), parse_error::obs_fold);
    EXPECT_EQ(error_of(get_with("X: a\r\n\tb\r\n")), parse_error::obs_fold);
}

TEST(RequestParserTest, RejectsWhitespaceBeforeFirstField) {
    EXPECT_EQ(error_of("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), parse_error::leading_whitespace);
}

TEST(RequestParserTest, RejectsInvalidFieldNameCharacters) {
    EXPECT_EQ(error_of(get_with("X(y): z\r\n")), parse_error::bad_field_name);
    EXPECT_EQ(error_of(get_with(": z\r\n")), parse_error::bad_field_name);
    EXPECT_EQ(error_of(get_with("X\xff: z\r\n")), parse_error::bad_field_name);
    EXPECT_EQ(error_of(get_with("X/Y: z\r\n")), parse_error::bad_field_name);
}

TEST(RequestParserTest, RejectsFieldLineWithoutColon) {
    EXPECT_EQ(error_of(get_with("NoColonHere\r\n")), parse_error::missing_colon);
}

// ---- 400: Content-Length ----------------------------------------------------------------------

TEST(RequestParserTest, RejectsContentLengthWithSign) {
    EXPECT_EQ(error_of(post_with("Content-Length: +5\r\n")), parse_error::bad_content_length);
    EXPECT_EQ(error_of(post_with("Content-Length: -5\r\n")), parse_error::bad_content_length);
}

TEST(RequestParserTest, RejectsContentLengthInHex) {
    EXPECT_EQ(error_of(post_with("Content-Length: 0x10\r\n")), parse_error::bad_content_length);
    EXPECT_EQ(error_of(post_with("Content-Length: 1a\r\n")), parse_error::bad_content_length);
}

TEST(RequestParserTest, RejectsContentLengthWithInnerSpaces) {
    EXPECT_EQ(error_of(post_with("Content-Length: 1 0\r\n")), parse_error::bad_content_length);
}

TEST(RequestParserTest, RejectsEmptyContentLength) {
    EXPECT_EQ(error_of(post_with("Content-Length:\r\n")), parse_error::bad_content_length);
    EXPECT_EQ(error_of(post_with("Content-Length: 5,\r\n")), parse_error::bad_content_length);
}

TEST(RequestParserTest, RejectsContentLengthOverflow) {
    EXPECT_EQ(error_of(post_with("Content-Length: 18446744073709551616\r\n")),
              parse_error::bad_content_length);
    EXPECT_EQ(error_of(post_with("Content-Length: 99999999999999999999999\r\n")),
              parse_error::bad_content_length);
}

TEST(RequestParserTest, RejectsContentLengthListWithDifferentValues) {
    EXPECT_EQ(error_of(post_with("Content-Length: 5, 6\r\n")), parse_error::bad_content_length);
}

TEST(RequestParserTest, RejectsDuplicateContentLengthWithDifferentValues) {
    EXPECT_EQ(error_of(post_with("Content-Length: 5\r\ncontent-length: 50\r\n")),
              parse_error::bad_content_length);
}

// ---- 400/501: Transfer-Encoding ---------------------------------------------------------------

TEST(RequestParserTest, RejectsContentLengthTogetherWithTransferEncoding) {
    const auto e = error_of(post_with("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"));
    EXPECT_EQ(e, parse_error::content_length_with_transfer_encoding);
    EXPECT_TRUE(must_close(e));
}

TEST(RequestParserTest, RejectsChunkedNotTheFinalCoding) {
    EXPECT_EQ(error_of(post_with("Transfer-Encoding: chunked, gzip\r\n")),
              parse_error::chunked_not_final);
    EXPECT_EQ(error_of(post_with("Transfer-Encoding: gzip\r\n")), parse_error::chunked_not_final);
    EXPECT_EQ(error_of(post_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n")),
              parse_error::chunked_not_final);
}

TEST(RequestParserTest, RejectsChunkedAppliedTwice) {
    EXPECT_EQ(error_of(post_with("Transfer-Encoding: chunked, chunked\r\n")),
              parse_error::chunked_not_final);
}

TEST(RequestParserTest, RejectsMalformedTransferEncoding) {
    EXPECT_EQ(error_of(post_with("Transfer-Encoding: ,\r\n")), parse_error::bad_transfer_encoding);
    EXPECT_EQ(error_of(post_with("Transfer-Encoding: g(zip, chunked\r\n")),
              parse_error::bad_transfer_encoding);
}

TEST(RequestParserTest, RejectsTransferEncodingInHttp10) {
    EXPECT_EQ(error_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
              parse_error::transfer_encoding_in_http10);
}

TEST(RequestParserTest, Answers501ForUnknownTransferCoding) {
    const auto e = error_of(post_with("Transfer-Encoding: gzip, chunked\r\n"));
    EXPECT_EQ(e, parse_error::unknown_transfer_coding);
    EXPECT_EQ(status_of(e).code, 501);
    EXPECT_EQ(error_of(post_with("Transfer-Encoding: foo;q=1, chunked\r\n")),
              parse_error::unknown_transfer_coding);
}

// ---- 505, 414, 431, 413 -----------------------------------------------------------------------

TEST(RequestParserTest, Answers505ForVersionsOtherThan10And11) {
    for (const char* v : {"HTTP/2.0", "HTTP/0.9", "HTTP/1.2", "HTTP/3.1"}) {
        const auto e = error_of(std::string("GET / ") + v + "\r\nHost: a\r\n\r\n");
        EXPECT_EQ(e, parse_error::unsupported_version) << v;
        EXPECT_EQ(status_of(e).code, 505);
    }
}

TEST(RequestParserTest, Answers414ForOverlongRequestLine) {
    const parser_limits defaults;
    EXPECT_GE(defaults.max_request_line, 8000u);  // RFC 9112 §3
    // At the limit: accepted; one octet over: 414, whether the rest has arrived or not.
    const std::string fill(defaults.max_request_line - std::string("GET / HTTP/1.1").size(), 'a');
    const std::string at_limit = "GET /" + fill + " HTTP/1.1\r\nHost: a\r\n\r\n";
    EXPECT_EQ(error_of(at_limit), parse_error::none);
    const std::string over = "GET /a" + fill + " HTTP/1.1\r\nHost: a\r\n\r\n";
    EXPECT_EQ(error_of(over), parse_error::request_line_too_long);
    EXPECT_EQ(status_of(parse_error::request_line_too_long).code, 414);
    parsed partial("GET /" + std::string(defaults.max_request_line + 10, 'a'));
    EXPECT_EQ(partial.result.error, parse_error::request_line_too_long);
}

TEST(RequestParserTest, EmptyLinesBeforeRequestLineCountTowardItsLimit) {
    parser_limits limits;
    limits.max_request_line = 20;
    EXPECT_EQ(error_of("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", limits), parse_error::none);
    EXPECT_EQ(error_of("\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", limits),
              parse_error::request_line_too_long);
    // A stream of empty lines alone is refused too, not buffered without end.
    EXPECT_EQ(error_of(std::string(100, '\r'), limits), parse_error::bare_cr);
    parsed crlfs([] {
        std::string s;
        for (int i = 0; i < 50; ++i) s += "\r\n";
        return s;
    }(), limits);
    EXPECT_EQ(crlfs.result.error, parse_error::request_line_too_long);
}

TEST(RequestParserTest, MaxFieldsIsClampedToTheFieldArray) {
    parser_limits limits;
    limits.max_fields = coil::http::field_capacity + 50;
    request_parser parser(limits);
    EXPECT_EQ(parser.limits().max_fields, coil::http::field_capacity);
    std::string many;
    for (std::size_t i = 0; i < coil::http::field_capacity; ++i) many += "X: y\r\n";
    EXPECT_EQ(error_of(get_with(many), limits), parse_error::too_many_fields);  // Host + 100
}

TEST(RequestParserTest, Answers431ForOverlargeHeaderBlock) {
    parser_limits limits;
    limits.max_header_block = 64;
    // The block: "Host: a\r\n" (9) + "X: " (3) + value + "\r\n" + "\r\n" = 16 + value octets.
    const std::string fits = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(64 - 16, 'v') + "\r\n\r\n";
    EXPECT_EQ(error_of(fits, limits), parse_error::none);
    const std::string over = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(64 - 16 + 1, 'v') + "\r\n\r\n";
    EXPECT_EQ(error_of(over, limits), parse_error::header_block_too_large);
    EXPECT_EQ(status_of(parse_error::header_block_too_large).code, 431);
    parsed partial("GET / HTTP/1.1\r\nX: " + std::string(100, 'v'), limits);
    EXPECT_EQ(partial.result.error, parse_error::header_block_too_large);
}

TEST(RequestParserTest, Answers431ForTooManyFields) {
    parser_limits limits;
    limits.max_fields = 3;
    EXPECT_EQ(error_of(get_with("A: 1\r\nB: 2\r\n"), limits), parse_error::none);
    const auto e = error_of(get_with("A: 1\r\nB: 2\r\nC: 3\r\n"), limits);
    EXPECT_EQ(e, parse_error::too_many_fields);
    EXPECT_EQ(status_of(e).code, 431);
}

TEST(RequestParserTest, Answers413ForContentLengthOverMaxBodyBeforeReadingIt) {
    parser_limits limits;
    limits.max_body = 100;
    EXPECT_EQ(error_of(post_with("Content-Length: 100\r\n"), limits), parse_error::none);
    // No body byte is present: the decision comes from the head alone.
    const auto e = error_of(post_with("Content-Length: 101\r\n"), limits);
    EXPECT_EQ(e, parse_error::body_too_large);
    EXPECT_EQ(status_of(e).code, 413);
    EXPECT_TRUE(must_close(e));
}

// ---- Host -------------------------------------------------------------------------------------

TEST(RequestParserTest, RejectsMissingHostOnHttp11) {
    EXPECT_EQ(error_of("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), parse_error::missing_host);
    EXPECT_EQ(error_of("GET http://a/ HTTP/1.1\r\n\r\n"), parse_error::missing_host);
}

TEST(RequestParserTest, RejectsDuplicateHost) {
    EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"), parse_error::duplicate_host);
    EXPECT_EQ(error_of("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), parse_error::duplicate_host);
}

TEST(RequestParserTest, RejectsInvalidHost) {
    for (const char* host : {"a b", "user@a", "a:8o", "a/b", "[::1", "a:1:2", "\"a\""}) {
        EXPECT_EQ(error_of(std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\n\r\n"),
                  parse_error::bad_host)
            << host;
    }
}

TEST(RequestParserTest, HostErrorsLeaveFramingKnown) {
    parsed p("POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody");
    ASSERT_EQ(p.result.error, parse_error::missing_host);
    EXPECT_FALSE(must_close(p.result.error));
    EXPECT_EQ(p.head().framing, body_framing::content_length);
    EXPECT_EQ(p.head().content_length, 4u);
    EXPECT_EQ(p.head().fields.size(), 1u);
}

TEST(RequestParserTest, FramingErrorsMustCloseTheConnection) {
    for (auto e : {parse_error::bad_content_length, parse_error::chunked_not_final,
                   parse_error::unknown_transfer_coding, parse_error::bare_cr, parse_error::obs_fold,
                   parse_error::request_line_too_long, parse_error::unsupported_version}) {
        EXPECT_TRUE(must_close(e)) << coil::http::describe(e);
    }
    EXPECT_FALSE(must_close(parse_error::none));
}

}  // namespace
