#pragma once
// coil::ip_endpoint: an IPv4 or IPv6 address and a port (a sockaddr_in / sockaddr_in6 value).
//
// Parses and formats "127.0.0.1:8080" and "[::1]:8080". Host names are not resolved: this is
// an address type, not a resolver.
//
// IPv6 zones (RFC 4007 section 11): a scoped address such as a link-local one carries the
// interface it belongs to, "fe80::1%2" or "fe80::1%eth0", kept as sin6_scope_id (0: none).
// - Parsing takes "%<index>" (decimal, 1..4294967295; an all-digit zone is always an index) or
//   "%<interface name>" (looked up with if_nametoindex(3) at parse time), inside the brackets:
//   "[fe80::1%eth0]:80". An empty zone, index 0, a zone on an IPv4 address or a name longer than
//   IF_NAMESIZE - 1 is invalid_argument; a well-formed name that no interface of this host has is
//   std::errc::no_such_device.
// - This is the RFC 4007 text form, not a URI: the RFC 6874 escape "%25" is not decoded, so
//   "[fe80::1%25eth0]:80" names an interface called "25eth0". Decode URIs before parsing.
// - Formatting prints the zone as its index ("[fe80::1%2]:80"), never the name: an index always
//   parses back to the same endpoint, also when the interface has been renamed or removed.
// - The zone is part of the value: it takes part in ==, survives from_sockaddr / data() and
//   parse(to_string()) round-trips.

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "coil/runtime/result.hpp"

namespace coil {

class ip_endpoint {
public:
    /// 0.0.0.0:0
    ip_endpoint() noexcept;

    static ip_endpoint loopback_v4(std::uint16_t port) noexcept;
    static ip_endpoint loopback_v6(std::uint16_t port) noexcept;
    static ip_endpoint any_v4(std::uint16_t port) noexcept;
    static ip_endpoint any_v6(std::uint16_t port) noexcept;

    /// "a.b.c.d:port", "[v6]:port" or "[v6%zone]:port"; port 0..65535 in decimal. Result: the
    /// endpoint, or std::errc::invalid_argument (std::errc::no_such_device: unknown zone name).
    /// The whole text counts: one with a NUL byte anywhere is invalid_argument.
    static result<ip_endpoint> parse(std::string_view text);
    /// An address literal (no port, no brackets; a v6 one may have a zone) and a port:
    /// "::1", 8080 or "fe80::1%eth0", 8080. Errors as for parse().
    static result<ip_endpoint> from_address(std::string_view address, std::uint16_t port);
    /// From a kernel-filled sockaddr; nullopt for families other than AF_INET/AF_INET6.
    static std::optional<ip_endpoint> from_sockaddr(const sockaddr* addr, socklen_t len) noexcept;

    [[nodiscard]] bool is_v4() const noexcept { return storage_.ss_family == AF_INET; }
    [[nodiscard]] bool is_v6() const noexcept { return storage_.ss_family == AF_INET6; }
    [[nodiscard]] int family() const noexcept { return storage_.ss_family; }
    [[nodiscard]] std::uint16_t port() const noexcept;
    void set_port(std::uint16_t port) noexcept;
    /// The IPv6 zone (interface index, sin6_scope_id); 0 for none and for IPv4.
    [[nodiscard]] std::uint32_t scope_id() const noexcept;

    /// "127.0.0.1", "::1" or "fe80::1%2"
    [[nodiscard]] std::string address_string() const;
    /// "127.0.0.1:8080", "[::1]:8080" or "[fe80::1%2]:8080"; parse() gives back an equal endpoint.
    [[nodiscard]] std::string to_string() const;

    [[nodiscard]] const sockaddr* data() const noexcept {
        return reinterpret_cast<const sockaddr*>(&storage_);
    }
    [[nodiscard]] socklen_t size() const noexcept {
        return is_v6() ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    }

    /// Same family, address, port and (IPv6) zone. The IPv6 flow label is not compared.
    friend bool operator==(const ip_endpoint& a, const ip_endpoint& b) noexcept;

private:
    sockaddr_storage storage_{};
};

}  // namespace coil
