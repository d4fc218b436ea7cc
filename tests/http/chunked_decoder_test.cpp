#include "coil/http/parser/chunked_decoder.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/http/guarded_buffer.hpp"

namespace {

using coil::http::chunk_status;
using coil::http::chunked_decoder;
using coil::http::parse_error;
using coil::http::parser_limits;
using coil::http::status_of;
using coil::testing::guarded_buffer;

struct decoded {
    std::string body;
    std::vector<std::pair<std::string, std::string>> trailers;
    std::vector<std::string> extensions;
    chunk_status last = chunk_status::incomplete;
    parse_error error = parse_error::none;
    std::size_t consumed = 0;  // octets of the input up to the end of the body (done)
};

// Decodes `text` from a guarded buffer, one event per call, consuming as told.
decoded decode_all(std::string_view text, const parser_limits& limits = {}) {
    guarded_buffer buf(text);
    chunked_decoder dec(limits);
    decoded out;
    std::string_view in = buf.view();
    for (int guard = 0; guard < 100000; ++guard) {
        auto r = dec.decode(in);
        in.remove_prefix(r.consumed);
        out.consumed += r.consumed;
        out.last = r.status;
        if (!r.extensions.empty()) out.extensions.emplace_back(r.extensions);
        if (r.status == chunk_status::data) {
            EXPECT_FALSE(r.data.empty());
            out.body += r.data;
        } else if (r.status == chunk_status::trailer_field) {
            out.trailers.emplace_back(r.trailer.name, r.trailer.value);
        } else {
            out.error = r.error;
            break;
        }
    }
    return out;
}

parse_error error_of(std::string_view text, const parser_limits& limits = {}) {
    auto d = decode_all(text, limits);
    EXPECT_EQ(d.last, d.error == parse_error::none ? chunk_status::done : chunk_status::error) << text;
    return d.error;
}

TEST(ChunkedDecoderTest, DecodesChunksAsViewsOfTheInput) {
    const std::string text = "4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\nNEXT";
    auto d = decode_all(text);
    EXPECT_EQ(d.last, chunk_status::done);
    EXPECT_EQ(d.body, "Wikipedia in\r\n\r\nchunks.");
    EXPECT_EQ(d.consumed, text.size() - 4);  // the next request starts at "NEXT"

    chunked_decoder dec;
    auto r = dec.decode(text);
    ASSERT_EQ(r.status, chunk_status::data);
    EXPECT_EQ(r.data.data(), text.data() + 3);  // a view, not a copy
    EXPECT_EQ(dec.body_size(), 4u);
}

TEST(ChunkedDecoderTest, AcceptsChunkExtensions) {
    auto d = decode_all("3;name=value ; flag;q=\"a \\\"b\\\"\"\r\nabc\r\n0;last\r\n\r\n");
    EXPECT_EQ(d.last, chunk_status::done);
    EXPECT_EQ(d.body, "abc");
    ASSERT_EQ(d.extensions.size(), 2u);
    EXPECT_EQ(d.extensions[0], ";name=value ; flag;q=\"a \\\"b\\\"\"");
    EXPECT_EQ(d.extensions[1], ";last");
}

TEST(ChunkedDecoderTest, ReturnsTrailerFields) {
    auto d = decode_all("1\r\nx\r\n0\r\nChecksum: abc \r\nX-Other:y\r\n\r\n");
    EXPECT_EQ(d.last, chunk_status::done);
    ASSERT_EQ(d.trailers.size(), 2u);
    EXPECT_EQ(d.trailers[0], (std::pair<std::string, std::string>{"Checksum", "abc"}));
    EXPECT_EQ(d.trailers[1], (std::pair<std::string, std::string>{"X-Other", "y"}));
}

TEST(ChunkedDecoderTest, RejectsBadChunkSize) {
    EXPECT_EQ(error_of("g\r\nx\r\n0\r\n\r\n"), parse_error::bad_chunk_size);
    EXPECT_EQ(error_of("\r\n0\r\n\r\n"), parse_error::bad_chunk_size);
    EXPECT_EQ(error_of("-1\r\nx\r\n0\r\n\r\n"), parse_error::bad_chunk_size);
    EXPECT_EQ(error_of("0x1\r\nx\r\n0\r\n\r\n"), parse_error::bad_chunk_size);
    EXPECT_EQ(error_of(" 1\r\nx\r\n0\r\n\r\n"), parse_error::bad_chunk_size);
    EXPECT_EQ(error_of("1 1\r\nx\r\n0\r\n\r\n"), parse_error::bad_chunk_extension);
    // Overflow: 17 hex digits.
    EXPECT_EQ(error_of("10000000000000000\r\n"), parse_error::bad_chunk_size);
    EXPECT_EQ(status_of(parse_error::bad_chunk_size).code, 400);
}

TEST(ChunkedDecoderTest, RejectsBadChunkExtension) {
    EXPECT_EQ(error_of("1;\r\nx\r\n0\r\n\r\n"), parse_error::bad_chunk_extension);
    EXPECT_EQ(error_of("1;a=\r\nx\r\n0\r\n\r\n"), parse_error::bad_chunk_extension);
    EXPECT_EQ(error_of("1;a=\"open\r\nx\r\n0\r\n\r\n"), parse_error::bad_chunk_extension);
    EXPECT_EQ(error_of("1;a b\r\nx\r\n0\r\n\r\n"), parse_error::bad_chunk_extension);
}

// Regression (found by the fuzzer's differential check): "0\t\r\n" was taken as a last chunk.
// BWS is allowed only before ';' and around '=' (RFC 9112 §7.1.1); whitespace ending the line is
// outside the grammar, and implementations that read it differently can be made to disagree on
// where a body ends.
TEST(ChunkedDecoderTest, RejectsWhitespaceAtTheEndOfAChunkLine) {
    EXPECT_EQ(error_of("0\t\r\n\r\n"), parse_error::bad_chunk_size);
    EXPECT_EQ(error_of("1 \r\nx\r\n0\r\n\r\n"), parse_error::bad_chunk_size);
    EXPECT_EQ(error_of("1;a=b \r\nx\r\n0\r\n\r\n"), parse_error::bad_chunk_extension);
    EXPECT_EQ(error_of("1;flag\t\r\nx\r\n0\r\n\r\n"), parse_error::bad_chunk_extension);
    // ... while BWS before ';' and around '=' is accepted.
    auto d = decode_all("1 \t; a = b\r\nx\r\n0\r\n\r\n");
    EXPECT_EQ(d.last, chunk_status::done);
    EXPECT_EQ(d.body, "x");
}

TEST(ChunkedDecoderTest, RejectsBadChunkFraming) {
    EXPECT_EQ(error_of("1\r\nxy\r\n0\r\n\r\n"), parse_error::bad_chunk_framing);  // data too long
    EXPECT_EQ(error_of("1\r\nx\n0\r\n\r\n"), parse_error::bad_chunk_framing);
    EXPECT_EQ(error_of("1\nx\r\n0\r\n\r\n"), parse_error::bare_lf);
    EXPECT_EQ(error_of("1\rx\r\n0\r\n\r\n"), parse_error::bare_cr);
    EXPECT_EQ(error_of("1\r\nx\r\n0\r\n\n"), parse_error::bare_lf);
}

TEST(ChunkedDecoderTest, RejectsControlBytesInChunkLine) {
    using namespace std::string_literals;
    EXPECT_EQ(error_of("1;a=b\0\r\nx\r\n0\r\n\r\n"s), parse_error::control_byte);
}

TEST(ChunkedDecoderTest, RejectsOverlongChunkLine) {
    parser_limits limits;
    limits.max_chunk_line = 16;
    const std::string at_limit = "1;" + std::string(14, 'a');  // 16 octets
    EXPECT_EQ(error_of(at_limit + "\r\nx\r\n0\r\n\r\n", limits), parse_error::none);
    EXPECT_EQ(error_of(at_limit + "a\r\nx\r\n0\r\n\r\n", limits), parse_error::chunk_line_too_long);
    // Without the rest of the line: decided once the limit is passed.
    EXPECT_EQ(error_of("1;aaaaaaaaaaaaaaaaaaaaaaa", limits), parse_error::chunk_line_too_long);
}

TEST(ChunkedDecoderTest, Answers413WhenChunkSizesExceedMaxBody) {
    parser_limits limits;
    limits.max_body = 10;
    EXPECT_EQ(error_of("5\r\n12345\r\n5\r\n12345\r\n0\r\n\r\n", limits), parse_error::none);
    // Decided from the chunk size, before its data arrives.
    auto d = decode_all("5\r\n12345\r\n6\r\n", limits);
    EXPECT_EQ(d.error, parse_error::body_too_large);
    EXPECT_EQ(status_of(d.error).code, 413);
    EXPECT_EQ(error_of("ffffffffffffffff\r\n", limits), parse_error::body_too_large);
}

TEST(ChunkedDecoderTest, RejectsObsFoldAndBadTrailerLines) {
    EXPECT_EQ(error_of("0\r\nA: b\r\n c\r\n\r\n"), parse_error::obs_fold);
    EXPECT_EQ(error_of("0\r\nA : b\r\n\r\n"), parse_error::whitespace_before_colon);
    EXPECT_EQ(error_of("0\r\nnocolon\r\n\r\n"), parse_error::missing_colon);
}

TEST(ChunkedDecoderTest, Answers431ForTooManyOrTooLargeTrailers) {
    parser_limits limits;
    limits.max_fields = 2;
    EXPECT_EQ(error_of("0\r\nA: 1\r\nB: 2\r\n\r\n", limits), parse_error::none);
    EXPECT_EQ(error_of("0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits), parse_error::too_many_fields);
    limits = {};
    // The trailer section "A: 1\r\nB: 2\r\n\r\n" is 14 octets.
    limits.max_header_block = 14;
    EXPECT_EQ(error_of("0\r\nA: 1\r\nB: 2\r\n\r\n", limits), parse_error::none);
    limits.max_header_block = 13;
    EXPECT_EQ(error_of("0\r\nA: 1\r\nB: 2\r\n\r\n", limits), parse_error::header_block_too_large);
}

// Every byte given one at a time (keeping unconsumed bytes, moving them to a new buffer each
// time) gives the same body, trailers and result as the whole input at once.
TEST(ChunkedDecoderTest, ByteByByteInMovingBuffersEqualsOneCall) {
    const std::string text = "a;x=1\r\n0123456789\r\n2\r\nab\r\n0\r\nT: v\r\n\r\n";
    auto whole = decode_all(text);
    ASSERT_EQ(whole.last, chunk_status::done);
    chunked_decoder dec;
    std::string pending;
    std::string body;
    std::vector<std::string> trailers;
    chunk_status last = chunk_status::incomplete;
    for (std::size_t i = 0; i < text.size() && last != chunk_status::done; ++i) {
        pending += text[i];
        for (;;) {
            guarded_buffer buf(pending);
            auto r = dec.decode(buf.view());
            pending.erase(0, r.consumed);
            last = r.status;
            if (r.status == chunk_status::data) body += r.data;
            if (r.status == chunk_status::trailer_field) trailers.emplace_back(r.trailer.value);
            ASSERT_NE(r.status, chunk_status::error) << i;
            if (r.status == chunk_status::incomplete || r.status == chunk_status::done) break;
        }
    }
    EXPECT_EQ(last, chunk_status::done);
    EXPECT_EQ(body, whole.body);
    EXPECT_EQ(trailers, std::vector<std::string>{"v"});
    EXPECT_TRUE(pending.empty());
}

}  // namespace
