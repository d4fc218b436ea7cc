// coil::http::date_cache: IMF-fixdate formatting (RFC 9110 §5.6.7) and the per-second cache.
#include <gtest/gtest.h>

#include <ctime>
#include <string>

#include "coil/http/date_cache.hpp"

namespace {

std::string formatted(std::time_t t) {
    char out[coil::http::date_cache::length];
    coil::http::date_cache::format(t, out);
    return {out, sizeof out};
}

TEST(DateCacheTest, FormatsTheRfcExampleAndOtherDates) {
    EXPECT_EQ(formatted(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");  // RFC 9110 §5.6.7
    EXPECT_EQ(formatted(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    EXPECT_EQ(formatted(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
    EXPECT_EQ(formatted(4102444799), "Thu, 31 Dec 2099 23:59:59 GMT");
}

TEST(DateCacheTest, NowIsTheCurrentSecond) {
    coil::http::date_cache cache;
    const std::time_t before = std::time(nullptr);
    const std::string now(cache.now());
    const std::time_t after = std::time(nullptr);
    // CLOCK_REALTIME_COARSE may lag time() by a tick: accept the second before too.
    bool matches = false;
    for (std::time_t t = before - 1; t <= after; ++t) matches = matches || now == formatted(t);
    EXPECT_TRUE(matches) << now;
    EXPECT_EQ(cache.now().data(), cache.now().data()) << "the cache hands out its own buffer";
}

}  // namespace
