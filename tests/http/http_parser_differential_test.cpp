// The differential check (tests/fuzz/differential.cpp) on every input of the seed corpus: where
// coil and libhttp-parser both accept, they agree; every disagreement has a named RFC rule.

#include "tests/fuzz/differential.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>

namespace {

TEST(HttpParserDifferentialTest, SeedCorpusAgreesOrDiffersForANamedRule) {
    std::map<std::string, int> tally;
    int files = 0;
    int both_accept = 0;
    for (const auto& entry : std::filesystem::directory_iterator(COIL_FUZZ_CORPUS)) {
        std::ifstream f(entry.path(), std::ios::binary);
        const std::string input((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        const auto v = coil::fuzz::compare(input);
        ++files;
        ++tally[v.category];
        if (v.kind == coil::fuzz::verdict::both_accept) ++both_accept;
        EXPECT_TRUE(v.explained) << entry.path() << ": " << v.category;
    }
    std::ostringstream report;
    for (const auto& [category, n] : tally) report << "  " << n << " x " << category << "\n";
    std::printf("%d inputs:\n%s", files, report.str().c_str());
    EXPECT_GE(files, 30);
    // The corpus must exercise the comparison, not only rejections.
    EXPECT_GE(both_accept, 10);
}

TEST(HttpParserDifferentialTest, AgreesOnAWrkStyleGet) {
    const auto v = coil::fuzz::compare(
        "GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: wrk\r\n"
        "Accept: text/plain\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_EQ(v.kind, coil::fuzz::verdict::both_accept);
    EXPECT_TRUE(v.explained) << v.category;
}

TEST(HttpParserDifferentialTest, FlagsCoilStrictnessWithTheRule) {
    // Debian's http-parser 2.9 (built without HTTP_PARSER_STRICT) takes any byte for the LF
    // after chunk data (found by the fuzzer); coil does not.
    const auto v = coil::fuzz::compare(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\xe9"
        "0\r\n\r\n");
    EXPECT_EQ(v.kind, coil::fuzz::verdict::only_coil_rejects);
    EXPECT_NE(v.category.find("RFC 9112 §7.1"), std::string::npos) << v.category;
}

}  // namespace
