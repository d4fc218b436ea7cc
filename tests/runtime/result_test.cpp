#include "coil/runtime/result.hpp"

#include <gtest/gtest.h>

#include <string>
#include <system_error>

#include "coil/runtime/errc.hpp"

namespace {

TEST(ResultTest, HoldsValue) {
    coil::result<std::string> r(std::string("hi"));
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "hi");
    EXPECT_EQ(r->size(), 2u);
    EXPECT_FALSE(r.error());
}

TEST(ResultTest, HoldsErrorAndValueThrowsSystemError) {
    coil::result<int> r(std::errc::connection_reset);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::connection_reset);
    EXPECT_THROW((void)r.value(), std::system_error);
    EXPECT_EQ(r.value_or(7), 7);
}

TEST(ResultTest, EofIsItsOwnCodeNotAnErrno) {
    coil::result<std::size_t> r(coil::errc::eof);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), coil::errc::eof);
    EXPECT_NE(r.error(), std::errc::connection_reset);
    EXPECT_EQ(r.error().message(), "end of stream");
}

TEST(ResultTest, VoidResultReportsSuccessAndFailure) {
    coil::result<void> ok;
    EXPECT_TRUE(ok);
    coil::result<void> bad(std::errc::timed_out);
    EXPECT_FALSE(bad);
    EXPECT_EQ(bad.error(), std::errc::timed_out);
    EXPECT_THROW(bad.value(), std::system_error);
}

}  // namespace
