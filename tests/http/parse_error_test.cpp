#include "coil/http/parser/parse_error.hpp"

#include <gtest/gtest.h>

#include <set>

namespace {

using coil::http::parse_error;
using coil::http::status_of;

TEST(ParseErrorTest, EveryErrorHasAStatusAReasonAndADescription) {
    std::set<std::uint16_t> codes;
    for (int i = 1; i <= static_cast<int>(parse_error::body_too_large); ++i) {
        const auto e = static_cast<parse_error>(i);
        const auto s = status_of(e);
        codes.insert(s.code);
        EXPECT_FALSE(s.reason.empty()) << i;
        EXPECT_NE(coil::http::describe(e), "unknown parse_error") << i;
    }
    EXPECT_EQ(codes, (std::set<std::uint16_t>{400, 413, 414, 431, 501, 505}));
    EXPECT_EQ(status_of(parse_error::none).code, 0);
}

TEST(ParseErrorTest, ReasonPhrasesFollowRfc9110) {
    EXPECT_EQ(status_of(parse_error::bad_method).reason, "Bad Request");
    EXPECT_EQ(status_of(parse_error::body_too_large).reason, "Content Too Large");
    EXPECT_EQ(status_of(parse_error::request_line_too_long).reason, "URI Too Long");
    EXPECT_EQ(status_of(parse_error::too_many_fields).reason, "Request Header Fields Too Large");
    EXPECT_EQ(status_of(parse_error::unknown_transfer_coding).reason, "Not Implemented");
    EXPECT_EQ(status_of(parse_error::unsupported_version).reason, "HTTP Version Not Supported");
}

}  // namespace
