// Description: IPv6 zone ids (issue 6, fault 1). ip_endpoint::parse("[fe80::1%1]:80") failed
// with EINVAL, and an endpoint from a sockaddr_in6 with sin6_scope_id = 1 printed as
// "[fe80::1]:80", so parse(to_string(e)) did not give e back. RFC 4007 section 11 text form:
// "%index" or "%ifname"; the zone is printed as its index and is part of the value.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>

#include <cstring>
#include <string>

#include "coil/net/ip_endpoint.hpp"

namespace {

using coil::ip_endpoint;

// The loopback interface exists on every Linux host (its index is usually, not always, 1).
unsigned lo_index() { return ::if_nametoindex("lo"); }

ip_endpoint from_sockaddr_in6(const char* address, std::uint16_t port, std::uint32_t scope) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    sa.sin6_scope_id = scope;
    EXPECT_EQ(::inet_pton(AF_INET6, address, &sa.sin6_addr), 1);
    return ip_endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), sizeof sa).value();
}

TEST(IpEndpointZoneTest, ParsesANumericZone) {
    auto e = ip_endpoint::parse("[fe80::1%1]:80");
    ASSERT_TRUE(e) << e.error().message();
    EXPECT_TRUE(e->is_v6());
    EXPECT_EQ(e->scope_id(), 1u);
    EXPECT_EQ(e->port(), 80);
    EXPECT_EQ(e->address_string(), "fe80::1%1");
    EXPECT_EQ(e->to_string(), "[fe80::1%1]:80");
}

TEST(IpEndpointZoneTest, ParsesAnInterfaceNameZoneAsItsIndex) {
    ASSERT_NE(lo_index(), 0u);
    auto e = ip_endpoint::parse("[fe80::1%lo]:80");
    ASSERT_TRUE(e) << e.error().message();
    EXPECT_EQ(e->scope_id(), lo_index());
    EXPECT_EQ(e->to_string(), "[fe80::1%" + std::to_string(lo_index()) + "]:80");
}

TEST(IpEndpointZoneTest, ASockaddrWithAScopeIdRoundTripsThroughToStringAndParse) {
    const ip_endpoint e = from_sockaddr_in6("fe80::1", 80, 1);
    EXPECT_EQ(e.scope_id(), 1u);
    EXPECT_EQ(e.to_string(), "[fe80::1%1]:80");
    auto back = ip_endpoint::parse(e.to_string());
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, e);
    // And back to a sockaddr for the kernel, zone included.
    ASSERT_EQ(back->size(), sizeof(sockaddr_in6));
    sockaddr_in6 out{};
    std::memcpy(&out, back->data(), sizeof out);
    EXPECT_EQ(out.sin6_scope_id, 1u);
    EXPECT_EQ(ntohs(out.sin6_port), 80);
}

TEST(IpEndpointZoneTest, TheZoneTakesPartInEquality) {
    EXPECT_NE(from_sockaddr_in6("fe80::1", 80, 1), from_sockaddr_in6("fe80::1", 80, 2));
    EXPECT_NE(from_sockaddr_in6("fe80::1", 80, 1), from_sockaddr_in6("fe80::1", 80, 0));
    EXPECT_EQ(from_sockaddr_in6("fe80::1", 80, 3), from_sockaddr_in6("fe80::1", 80, 3));
    EXPECT_EQ(ip_endpoint::parse("[fe80::1%lo]:80").value(),
              from_sockaddr_in6("fe80::1", 80, lo_index()));
}

TEST(IpEndpointZoneTest, FromAddressAcceptsAZone) {
    auto e = ip_endpoint::from_address("fe80::1%lo", 5);
    ASSERT_TRUE(e) << e.error().message();
    EXPECT_EQ(e->scope_id(), lo_index());
    EXPECT_EQ(e->port(), 5);
    auto again = ip_endpoint::from_address(e->address_string(), 5);
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *e);
}

TEST(IpEndpointZoneTest, SetPortKeepsTheZone) {
    auto e = ip_endpoint::parse("[fe80::1%7]:1").value();
    e.set_port(2);
    EXPECT_EQ(e.to_string(), "[fe80::1%7]:2");
}

TEST(IpEndpointZoneTest, RejectsMalformedZonesWithInvalidArgument) {
    for (const char* bad : {
             "[fe80::1%]:80",             // empty zone
             "[fe80::1%0]:80",            // index 0 is "no zone", not a zone
             "[fe80::1%4294967296]:80",   // index out of range
             "[fe80::1%abcdefghijklmnop]:80",  // longer than IF_NAMESIZE - 1
             "127.0.0.1%1:80",            // zones are IPv6 only
             "[fe80::1%1]",               // no port
             "[fe80::1%1]:",              // empty port
             "[fe80::1%1]:65536",         // port out of range
             "[fe80::1%1]:-1",
             "[fe80::1%1]:+80",
             "fe80::1%1:80",              // IPv6 needs brackets
             "[fe80::1%1:80",             // missing closing bracket
             "fe80::1%1]:80",             // missing opening bracket
             "[fe80::1%1]]:80",
             "[%1]:80",                   // a zone without an address
         }) {
        auto e = ip_endpoint::parse(bad);
        ASSERT_FALSE(e) << bad;
        EXPECT_EQ(e.error(), std::errc::invalid_argument) << bad;
    }
    EXPECT_EQ(ip_endpoint::from_address("10.0.0.1%lo", 1).error(), std::errc::invalid_argument);
    EXPECT_EQ(ip_endpoint::from_address("fe80::1%", 1).error(), std::errc::invalid_argument);
    EXPECT_EQ(ip_endpoint::parse("[fe80::1%1]:65535")->port(), 65535);
}

TEST(IpEndpointZoneTest, AnUnknownInterfaceNameIsNoSuchDevice) {
    ASSERT_EQ(::if_nametoindex("coil-nosuch0"), 0u);
    auto e = ip_endpoint::parse("[fe80::1%coil-nosuch0]:80");
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error(), std::errc::no_such_device);
}

// The RFC 6874 URI escape is not decoded: "%25" is the zone text itself (documented choice).
TEST(IpEndpointZoneTest, TheUriEscapePercent25IsNotDecoded) {
    ASSERT_EQ(::if_nametoindex("25lo"), 0u);
    auto named = ip_endpoint::parse("[fe80::1%25lo]:80");
    ASSERT_FALSE(named);
    EXPECT_EQ(named.error(), std::errc::no_such_device);  // looked up as "25lo", not "lo"
    EXPECT_EQ(ip_endpoint::parse("[fe80::1%25]:80")->scope_id(), 25u);
}

}  // namespace
