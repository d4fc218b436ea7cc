#include "coil/net/ip_endpoint.hpp"

#include <gtest/gtest.h>

namespace {

using coil::ip_endpoint;

TEST(IpEndpointTest, ParsesAndFormatsIpv4) {
    auto e = ip_endpoint::parse("127.0.0.1:8080");
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->is_v4());
    EXPECT_EQ(e->port(), 8080);
    EXPECT_EQ(e->address_string(), "127.0.0.1");
    EXPECT_EQ(e->to_string(), "127.0.0.1:8080");
    EXPECT_EQ(*e, ip_endpoint::loopback_v4(8080));
}

TEST(IpEndpointTest, ParsesAndFormatsBracketedIpv6) {
    auto e = ip_endpoint::parse("[::1]:443");
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->is_v6());
    EXPECT_EQ(e->port(), 443);
    EXPECT_EQ(e->to_string(), "[::1]:443");
    EXPECT_EQ(*e, ip_endpoint::loopback_v6(443));
    EXPECT_EQ(ip_endpoint::parse("[2001:db8::5]:0")->to_string(), "[2001:db8::5]:0");
}

TEST(IpEndpointTest, RejectsMalformedInputWithInvalidArgument) {
    for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:65536", "127.0.0.1:-1",
                            "127.0.0.1:80x", "localhost:80", "::1:80", "[::1]80", "[::1]:", "[127.0.0.1]:80",
                            "1.2.3.4.5:80", "[::1:80"}) {
        auto e = ip_endpoint::parse(bad);
        EXPECT_FALSE(e) << bad;
        EXPECT_EQ(e.error(), std::errc::invalid_argument) << bad;
    }
}

TEST(IpEndpointTest, FromAddressTakesEitherFamily) {
    EXPECT_TRUE(ip_endpoint::from_address("10.1.2.3", 1)->is_v4());
    EXPECT_TRUE(ip_endpoint::from_address("fe80::1", 1)->is_v6());
    EXPECT_FALSE(ip_endpoint::from_address("not-an-ip", 1));
}

TEST(IpEndpointTest, SetPortKeepsTheAddress) {
    auto e = ip_endpoint::loopback_v6(0);
    e.set_port(9);
    EXPECT_EQ(e.to_string(), "[::1]:9");
}

}  // namespace
