// Micro-benchmarks of http/parser: ns per request head for a wrk-style GET, parsed alone and in a
// pipelined batch, plus a chunked body; libhttp-parser on the same GET for scale, when present.
// Run: ./dev microbench, or build/release/bench/http_parser_bench --benchmark_repetitions=5

#include <benchmark/benchmark.h>

#include <string>

#include "coil/http/parser/chunked_decoder.hpp"
#include "coil/http/parser/request_parser.hpp"

#ifdef COIL_BENCH_HTTP_PARSER
#include <http_parser.h>
#endif

namespace {

// What wrk sends by default, plus one typical header.
const std::string wrk_get =
    "GET /plaintext HTTP/1.1\r\n"
    "Host: localhost:8080\r\n"
    "User-Agent: wrk/4.2.0\r\n"
    "Accept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,*/*;q=0.8\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";

void parse_wrk_get(benchmark::State& state) {
    coil::http::request_parser parser;
    for (auto _ : state) {
        auto r = parser.parse(wrk_get);
        benchmark::DoNotOptimize(r);
        benchmark::DoNotOptimize(parser.head().fields.data());
        if (r.status != coil::http::parse_status::complete) state.SkipWithError("not complete");
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(wrk_get.size()));
}
BENCHMARK(parse_wrk_get);

// A server's view of pipelining: 16 requests in one buffer, parsed one after the other.
void parse_pipelined_16(benchmark::State& state) {
    std::string batch;
    for (int i = 0; i < 16; ++i) batch += wrk_get;
    coil::http::request_parser parser;
    for (auto _ : state) {
        std::string_view in = batch;
        while (!in.empty()) {
            auto r = parser.parse(in);
            if (r.status != coil::http::parse_status::complete) {
                state.SkipWithError("not complete");
                break;
            }
            benchmark::DoNotOptimize(parser.head().target.data());
            in.remove_prefix(r.consumed);
        }
    }
    state.SetItemsProcessed(state.iterations() * 16);
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(batch.size()));
}
BENCHMARK(parse_pipelined_16);

// The same head arriving in two reads: the first half, then all of it.
void parse_wrk_get_in_two_reads(benchmark::State& state) {
    coil::http::request_parser parser;
    const std::string_view half = std::string_view(wrk_get).substr(0, wrk_get.size() / 2);
    for (auto _ : state) {
        parser.reset();
        auto a = parser.parse(half);
        auto b = parser.parse(wrk_get);
        benchmark::DoNotOptimize(a);
        benchmark::DoNotOptimize(b);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(parse_wrk_get_in_two_reads);

void decode_chunked_body(benchmark::State& state) {
    std::string body;
    for (int i = 0; i < 8; ++i) body += "80\r\n" + std::string(128, 'x') + "\r\n";
    body += "0\r\n\r\n";
    coil::http::chunked_decoder dec;
    for (auto _ : state) {
        dec.reset();
        std::string_view in = body;
        std::size_t total = 0;
        for (;;) {
            auto r = dec.decode(in);
            in.remove_prefix(r.consumed);
            total += r.data.size();
            if (r.status == coil::http::chunk_status::done) break;
            if (r.status == coil::http::chunk_status::error) {
                state.SkipWithError("chunked error");
                break;
            }
        }
        benchmark::DoNotOptimize(total);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
}
BENCHMARK(decode_chunked_body);

#ifdef COIL_BENCH_HTTP_PARSER
int hp_count(http_parser* p, const char*, size_t) {
    ++*static_cast<int*>(p->data);
    return 0;
}

// libhttp-parser 2.9 (Debian) on the same GET, with callbacks that only count: for scale.
void http_parser_wrk_get(benchmark::State& state) {
    http_parser_settings settings{};
    settings.on_url = hp_count;
    settings.on_header_field = hp_count;
    settings.on_header_value = hp_count;
    http_parser parser;
    int calls = 0;
    for (auto _ : state) {
        http_parser_init(&parser, HTTP_REQUEST);
        parser.data = &calls;
        auto n = http_parser_execute(&parser, &settings, wrk_get.data(), wrk_get.size());
        benchmark::DoNotOptimize(n);
    }
    benchmark::DoNotOptimize(calls);
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(http_parser_wrk_get);
#endif

}  // namespace

BENCHMARK_MAIN();
