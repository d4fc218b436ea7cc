#pragma once
// coil::ip_endpoint: an IPv4 or IPv6 address and a port (a sockaddr_in / sockaddr_in6 value).
//
// Parses and formats "127.0.0.1:8080" and "[::1]:8080". Host names are not resolved: this is
// an address type, not a resolver.

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

    /// "a.b.c.d:port" or "[v6]:port". Result: the endpoint, or std::errc::invalid_argument.
    static result<ip_endpoint> parse(std::string_view text);
    /// An address literal (no port) and a port: "::1", 8080.
    static result<ip_endpoint> from_address(std::string_view address, std::uint16_t port);
    /// From a kernel-filled sockaddr; nullopt for families other than AF_INET/AF_INET6.
    static std::optional<ip_endpoint> from_sockaddr(const sockaddr* addr, socklen_t len) noexcept;

    [[nodiscard]] bool is_v4() const noexcept { return storage_.ss_family == AF_INET; }
    [[nodiscard]] bool is_v6() const noexcept { return storage_.ss_family == AF_INET6; }
    [[nodiscard]] int family() const noexcept { return storage_.ss_family; }
    [[nodiscard]] std::uint16_t port() const noexcept;
    void set_port(std::uint16_t port) noexcept;

    /// "127.0.0.1" or "::1"
    [[nodiscard]] std::string address_string() const;
    /// "127.0.0.1:8080" or "[::1]:8080"
    [[nodiscard]] std::string to_string() const;

    [[nodiscard]] const sockaddr* data() const noexcept {
        return reinterpret_cast<const sockaddr*>(&storage_);
    }
    [[nodiscard]] socklen_t size() const noexcept {
        return is_v6() ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    }

    friend bool operator==(const ip_endpoint& a, const ip_endpoint& b) noexcept;

private:
    sockaddr_storage storage_{};
};

}  // namespace coil
