// libFuzzer target for http/parser (build: ./dev fuzz; see tests/fuzz/README.md).
//
// For each input it checks, and crashes on a violation (ASan/UBSan catch the rest):
// 1. Parsing in one call and parsing in pieces (split where the input's bytes say, each piece
//    presented in a fresh buffer so views must move) give the same status, error, consumed and
//    head; every view lies inside the input.
// 2. A chunked body decodes to the same body and trailers in one call as byte by byte.
// 3. With COIL_FUZZ_DIFFERENTIAL (default when libhttp-parser is found): coil and http-parser
//    agree where both accept, and every disagreement has a rule (tests/fuzz/differential.cpp).
//    COIL_FUZZ_REPORT=1 in the environment prints each disagreement's category.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "coil/http/parser/chunked_decoder.hpp"
#include "coil/http/parser/request_parser.hpp"

#ifdef COIL_FUZZ_DIFFERENTIAL
#include "tests/fuzz/differential.hpp"
#endif

namespace {

using namespace coil::http;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                \
        }                                                                                \
    } while (0)

bool inside(std::string_view v, std::string_view in) {
    if (v.data() == nullptr) return v.empty();
    return v.data() >= in.data() && v.data() + v.size() <= in.data() + in.size();
}

// A heap copy of exactly `s`'s bytes, so that ASan sees any read past the end.
std::unique_ptr<char[]> copy(std::string_view s) {
    auto p = std::make_unique<char[]>(s.size() + (s.empty() ? 1 : 0));
    if (!s.empty()) std::memcpy(p.get(), s.data(), s.size());
    return p;
}

struct head_copy {
    std::string method, target, host;
    std::vector<std::string> fields;
    body_framing framing{};
    std::uint64_t content_length = 0;
    bool keep_alive = false, expect_continue = false;
    std::uint8_t version_minor = 0;
    bool operator==(const head_copy&) const = default;
};

head_copy copy_head(const request_head& h) {
    head_copy c{std::string(h.method), std::string(h.target), std::string(h.host), {}, h.framing,
                h.content_length, h.keep_alive, h.expect_continue, h.version_minor};
    for (const auto& f : h.fields) {
        c.fields.emplace_back(std::string(f.name) + ":" + std::string(f.value));
    }
    return c;
}

void check_head(const request_head& h, std::string_view in, const parser_limits& limits) {
    CHECK(inside(h.method, in) && !h.method.empty());
    CHECK(inside(h.target, in) && !h.target.empty());
    CHECK(inside(h.host, in));
    CHECK(h.fields.size() <= limits.max_fields);
    CHECK(h.version_minor <= 1);
    for (const auto& f : h.fields) {
        CHECK(inside(f.name, in) && !f.name.empty() && inside(f.value, in));
    }
}

void check_chunked(std::string_view body, const parser_limits& limits) {
    // One call at a time over the whole remainder.
    std::string whole, whole_trailers;
    chunk_status last{};
    parse_error whole_error{};
    {
        auto buf = copy(body);
        std::string_view in(buf.get(), body.size());
        chunked_decoder dec(limits);
        for (int i = 0; i < 1 << 20; ++i) {
            auto r = dec.decode(in);
            CHECK(r.consumed <= in.size());
            CHECK(inside(r.data, in) && inside(r.trailer.name, in) && inside(r.trailer.value, in));
            in.remove_prefix(r.consumed);
            last = r.status;
            if (r.status == chunk_status::data) {
                CHECK(!r.data.empty());
                whole += r.data;
            } else if (r.status == chunk_status::trailer_field) {
                whole_trailers += std::string(r.trailer.name) + ":" + std::string(r.trailer.value);
            } else {
                whole_error = r.error;
                break;
            }
        }
        CHECK(last != chunk_status::done || dec.body_size() == whole.size());
        CHECK(whole.size() <= limits.max_body);
    }
    // Byte by byte, keeping unconsumed bytes and moving them each time.
    std::string pending, body2, trailers2;
    chunk_status last2 = chunk_status::incomplete;
    parse_error error2{};
    chunked_decoder dec(limits);
    for (std::size_t i = 0; i < body.size() && last2 == chunk_status::incomplete; ++i) {
        pending += body[i];
        for (;;) {
            auto buf = copy(pending);
            auto r = dec.decode(std::string_view(buf.get(), pending.size()));
            pending.erase(0, r.consumed);
            last2 = r.status;
            if (r.status == chunk_status::data) body2 += r.data;
            if (r.status == chunk_status::trailer_field) {
                trailers2 += std::string(r.trailer.name) + ":" + std::string(r.trailer.value);
            }
            if (r.status == chunk_status::error) error2 = r.error;
            if (r.status != chunk_status::data && r.status != chunk_status::trailer_field) break;
        }
    }
    CHECK(last2 == last);
    CHECK(error2 == whole_error);
    if (last == chunk_status::done) {
        CHECK(body2 == whole);
        CHECK(trailers2 == whole_trailers);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    // Cut points (below) and the choice of limits come from a simple hash of the input.
    std::uint32_t hash = 2166136261u;
    for (std::uint8_t b : input) hash = (hash ^ b) * 16777619u;
    // Small limits for a quarter of the inputs, so the fuzzer reaches them.
    const bool small_limits = hash % 4 == 0;
    parser_limits limits;
    if (small_limits) {
        limits.max_request_line = 64;
        limits.max_header_block = 128;
        limits.max_fields = 4;
        limits.max_body = 64;
        limits.max_chunk_line = 16;
    }

    auto buf = copy(input);
    const std::string_view in(buf.get(), size);
    request_parser one(limits);
    const auto r1 = one.parse(in);
    CHECK(r1.consumed <= size);
    CHECK((r1.status == parse_status::error) == (r1.error != parse_error::none));
    CHECK(r1.status != parse_status::complete || r1.consumed > 0);
    if (r1.status == parse_status::error) {
        CHECK(status_of(r1.error).code >= 400);
    }
    head_copy h1;
    const auto head_ready = [](const parse_result& r) {
        return r.status == parse_status::complete ||
               (r.status == parse_status::error && !must_close(r.error));
    };
    if (head_ready(r1)) {
        check_head(one.head(), in, limits);
        h1 = copy_head(one.head());
    }

    // The same bytes in pieces.
    request_parser split(limits);
    parse_result r2;
    std::size_t given = 0;
    for (int piece = 0;; ++piece) {
        const std::size_t step = piece < 8 ? 1 + (hash >> (piece * 4) & 15) * (1 + size / 64) : size;
        given = std::min(size, given + step);
        auto piece_buf = copy(input.substr(0, given));  // a new address every time
        const std::string_view view(piece_buf.get(), given);
        r2 = split.parse(view);
        if (r2.status != parse_status::incomplete || given == size) {
            if (head_ready(r2)) {
                check_head(split.head(), view, limits);
                CHECK(copy_head(split.head()) == h1);
            }
            break;
        }
    }
    CHECK(r2.status == r1.status);
    CHECK(r2.error == r1.error);
    CHECK(r2.consumed == r1.consumed);

    if (r1.status == parse_status::complete && one.head().framing == body_framing::chunked) {
        check_chunked(input.substr(r1.consumed), limits);
    }

#ifdef COIL_FUZZ_DIFFERENTIAL
    if (!small_limits) {  // default limits only: http-parser has its own
        const auto v = coil::fuzz::compare(input);
        static const bool report = std::getenv("COIL_FUZZ_REPORT") != nullptr;
        if (report && v.kind != coil::fuzz::verdict::both_reject &&
            v.kind != coil::fuzz::verdict::skipped) {
            std::string shown;
            for (char c : input.substr(0, 160)) {
                const auto u = static_cast<unsigned char>(c);
                if (u >= 0x20 && u < 0x7f && u != '\\') {
                    shown += c;
                } else {
                    char esc[8];
                    std::snprintf(esc, sizeof esc, "\\x%02x", u);
                    shown += esc;
                }
            }
            std::fprintf(stderr, "differential: %s | %s\n", v.category.c_str(), shown.c_str());
        }
        if (!v.explained) {
            std::fprintf(stderr, "unexplained difference: %s\n", v.category.c_str());
            std::abort();
        }
    }
#endif
    return 0;
}
