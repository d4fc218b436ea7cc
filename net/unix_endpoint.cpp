#include "coil/net/unix_endpoint.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace coil {

unix_endpoint unix_endpoint::abstract(std::string_view name) {
    unix_endpoint e{std::string(name)};
    e.abstract_ = true;
    return e;
}

result<unix_endpoint> unix_endpoint::from_sockaddr(const sockaddr* addr, socklen_t len) {
    constexpr auto path_at = offsetof(sockaddr_un, sun_path);
    if (addr == nullptr || len < sizeof(sa_family_t) || addr->sa_family != AF_UNIX) {
        return std::errc::address_family_not_supported;
    }
    if (len <= path_at) return unix_endpoint{};  // unnamed
    const auto* un = reinterpret_cast<const sockaddr_un*>(addr);
    const std::size_t n = std::min<std::size_t>(len - path_at, sizeof un->sun_path);
    if (un->sun_path[0] == '\0') return abstract(std::string_view(un->sun_path + 1, n - 1));
    // A path: the kernel may or may not count its terminating NUL (unix(7)); stop at the first.
    return unix_endpoint{std::string(un->sun_path, ::strnlen(un->sun_path, n))};
}

std::string unix_endpoint::to_string() const { return abstract_ ? "@" + name_ : name_; }

result<void> unix_endpoint::to_sockaddr(sockaddr_un& out, socklen_t& len) const noexcept {
    out = sockaddr_un{};
    out.sun_family = AF_UNIX;
    constexpr auto path_at = offsetof(sockaddr_un, sun_path);
    if (abstract_) {
        if (name_.size() > max_abstract_length) return std::errc::filename_too_long;
        std::memcpy(out.sun_path + 1, name_.data(), name_.size());  // sun_path[0] stays NUL
        len = static_cast<socklen_t>(path_at + 1 + name_.size());  // exactly: no terminator
        return {};
    }
    if (name_.empty() || name_.find('\0') != std::string::npos) return std::errc::invalid_argument;
    if (name_.size() > max_path_length) return std::errc::filename_too_long;
    std::memcpy(out.sun_path, name_.data(), name_.size());
    len = static_cast<socklen_t>(path_at + name_.size() + 1);  // with the NUL
    return {};
}

}  // namespace coil
