// The parser allocates nothing: a keep-alive server's per-request path must not reach the heap.
// This binary replaces the global operator new to count allocations made while counting is on.

#include "coil/http/parser/chunked_decoder.hpp"
#include "coil/http/parser/request_parser.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <string>

namespace {
thread_local bool counting = false;
thread_local int allocations = 0;
}  // namespace

void* operator new(std::size_t n) {
    if (counting) ++allocations;
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace coil::http;

TEST(ParserAllocationTest, ParsingPipelinedRequestsAndAChunkedBodyAllocatesNothing) {
    std::string batch;
    for (int i = 0; i < 8; ++i) {
        batch += "GET /hello HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: wrk\r\n"
                 "Accept: */*\r\nConnection: keep-alive\r\n\r\n";
    }
    batch += "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n";
    batch += "GET / HTTP/1.1\r\nHost: a\r\nX : bad\r\n\r\n";  // and an error

    request_parser parser;
    chunked_decoder decoder;
    int completes = 0;
    int chunk_events = 0;
    parse_result r;
    counting = true;
    std::string_view in = batch;
    for (int guard = 0; guard < 100; ++guard) {
        r = parser.parse(in);
        if (r.status != parse_status::complete) break;
        ++completes;
        in.remove_prefix(r.consumed);
        if (parser.head().framing == body_framing::chunked) {
            for (;;) {
                auto c = decoder.decode(in);
                in.remove_prefix(c.consumed);
                ++chunk_events;
                if (c.status == chunk_status::done || c.status == chunk_status::error) break;
            }
        }
        (void)parser.head().field("connection");
    }
    counting = false;
    EXPECT_EQ(allocations, 0);
    EXPECT_EQ(completes, 9);
    EXPECT_EQ(chunk_events, 3);  // data, trailer, done
    EXPECT_EQ(r.error, parse_error::whitespace_before_colon);
}

}  // namespace
