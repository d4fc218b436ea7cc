// Description: ip_endpoint::parse / from_address accepted text with an embedded NUL byte by
// parsing only what came before it: "127.0.0.1\0evil:80" gave 127.0.0.1:80 and
// "fe80::1%lo\0x" took the zone "lo". The address and the zone name were copied into C strings
// for inet_pton(3) / if_nametoindex(3), which stop at the first NUL, so the rest of the
// string_view was never looked at (the NUL-injection kind of bug: a validator that sees one
// string and a consumer that sees another). Every input must be judged as a whole: a NUL
// anywhere is invalid_argument. Also a small property check: parse(to_string(e)) == e for
// generated endpoints, and no generated malformed text is accepted or crashes.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <system_error>

#include "coil/net/ip_endpoint.hpp"

namespace {

using coil::ip_endpoint;
using namespace std::string_view_literals;

TEST(IpEndpointEmbeddedNulTest, ParseRejectsANulInsideTheV4Address) {
    auto e = ip_endpoint::parse("127.0.0.1\0evil:80"sv);
    ASSERT_FALSE(e) << "accepted as " << e->to_string();
    EXPECT_EQ(e.error(), std::errc::invalid_argument);
}

TEST(IpEndpointEmbeddedNulTest, ParseRejectsANulInsideTheV6Address) {
    auto e = ip_endpoint::parse("[::1\0junk]:80"sv);
    ASSERT_FALSE(e) << "accepted as " << e->to_string();
    EXPECT_EQ(e.error(), std::errc::invalid_argument);
}

TEST(IpEndpointEmbeddedNulTest, FromAddressRejectsANulAfterTheAddress) {
    auto e = ip_endpoint::from_address("10.0.0.1\0"sv, 1);
    ASSERT_FALSE(e) << "accepted as " << e->to_string();
    EXPECT_EQ(e.error(), std::errc::invalid_argument);
}

TEST(IpEndpointEmbeddedNulTest, ParseRejectsANulInsideAZoneName) {
    // "lo" exists on every Linux host, so the truncated name would be found.
    auto e = ip_endpoint::parse("[fe80::1%lo\0x]:80"sv);
    ASSERT_FALSE(e) << "accepted as " << e->to_string();
    EXPECT_EQ(e.error(), std::errc::invalid_argument);
}

TEST(IpEndpointEmbeddedNulTest, ParseRejectsANulInThePort) {
    auto e = ip_endpoint::parse("127.0.0.1:80\0"sv);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error(), std::errc::invalid_argument);
}

ip_endpoint random_endpoint(std::mt19937& rng) {
    std::uniform_int_distribution<unsigned> byte(0, 255);
    std::uniform_int_distribution<unsigned> port(0, 65535);
    if (rng() % 2 == 0) {
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(static_cast<std::uint16_t>(port(rng)));
        sa.sin_addr.s_addr = static_cast<std::uint32_t>(rng());
        return ip_endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), sizeof sa).value();
    }
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(static_cast<std::uint16_t>(port(rng)));
    // Runs of zero groups (for "::" compression) and v4-mapped forms come up often enough.
    for (auto& b : sa.sin6_addr.s6_addr) b = static_cast<std::uint8_t>(rng() % 3 == 0 ? 0 : byte(rng));
    if (rng() % 8 == 0) {
        for (int i = 0; i < 10; ++i) sa.sin6_addr.s6_addr[i] = 0;
        sa.sin6_addr.s6_addr[10] = sa.sin6_addr.s6_addr[11] = 0xff;
    }
    sa.sin6_scope_id = rng() % 4 == 0 ? static_cast<std::uint32_t>(rng()) : 0;
    return ip_endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), sizeof sa).value();
}

TEST(IpEndpointEmbeddedNulTest, ParseOfToStringRoundTrips) {
    std::mt19937 rng(12345);
    for (int i = 0; i < 20000; ++i) {
        const ip_endpoint e = random_endpoint(rng);
        const std::string text = e.to_string();
        auto back = ip_endpoint::parse(text);
        ASSERT_TRUE(back) << text << ": " << back.error().message();
        ASSERT_EQ(*back, e) << text << " came back as " << back->to_string();
        ASSERT_EQ(back->to_string(), text);
    }
}

TEST(IpEndpointEmbeddedNulTest, MutatedTextIsRejectedOrFormatsBackToItsOwnValue) {
    // Mutations of valid text: whatever parse accepts must be a value that round-trips, and any
    // text containing a NUL must be refused. Run under ASan this also checks nothing overreads.
    std::mt19937 rng(777);
    const std::string alphabet = std::string("0123456789abcdefABCDEF:.[]%lo") + '\0';
    int accepted_with_nul = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string text = random_endpoint(rng).to_string();
        const int edits = 1 + static_cast<int>(rng() % 3);
        for (int k = 0; k < edits; ++k) {
            const std::size_t at = rng() % (text.size() + 1);
            const char c = alphabet[rng() % alphabet.size()];
            switch (rng() % 3) {
                case 0: text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c); break;
                case 1: if (at < text.size()) text.erase(at, 1); break;
                default: if (at < text.size()) text[at] = c; break;
            }
        }
        auto e = ip_endpoint::parse(text);
        if (!e) continue;
        if (text.find('\0') != std::string::npos) ++accepted_with_nul;
        auto again = ip_endpoint::parse(e->to_string());
        ASSERT_TRUE(again) << e->to_string();
        ASSERT_EQ(*again, *e);
    }
    EXPECT_EQ(accepted_with_nul, 0);
}

}  // namespace
