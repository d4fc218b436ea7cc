#pragma once
// coil::unix_endpoint: the address of a Unix domain socket (AF_UNIX, unix(7)): a filesystem path
// or a Linux abstract name.
//
//     coil::unix_endpoint file("/run/myapp.sock");                // a socket file
//     auto hidden = coil::unix_endpoint::abstract("myapp");       // no file: "@myapp" in ss(8)
//
// - A filesystem path names a socket file that bind creates (see unix_listener for stale files).
// - An abstract name (Linux only) lives in the network namespace, not the filesystem: sun_path
//   starts with a NUL byte and the name is the bytes after it (the whole length counts, no
//   terminator; the name may itself contain NULs). It vanishes when the last socket bound to it
//   closes: nothing to clean up, no stale files, no file permissions (anyone in the namespace
//   may connect; check peer_credentials()).
// Limits: sun_path holds 108 bytes on Linux. A path must be at most 107 bytes (room for its
// terminating NUL, as portable code needs) and contain no NUL; an abstract name at most 107
// bytes (after the leading NUL). Longer ones, an empty path and a path with a NUL are refused
// when the address is used (to_sockaddr, so bind and connect) with std::errc::filename_too_long
// (too long) or std::errc::invalid_argument (empty, NUL), never truncated. A relative path is
// resolved by the kernel against the working directory at bind/connect time.

#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "coil/runtime/result.hpp"

namespace coil {

class unix_endpoint {
public:
    /// Largest path (without its NUL) and largest abstract name (without the leading NUL).
    static constexpr std::size_t max_path_length = sizeof(sockaddr_un::sun_path) - 1;
    static constexpr std::size_t max_abstract_length = sizeof(sockaddr_un::sun_path) - 1;

    /// Unnamed (an unbound socket's address, e.g. a connecting client's as its peer sees it).
    unix_endpoint() noexcept = default;
    /// A filesystem path.
    explicit unix_endpoint(std::string path) : name_(std::move(path)) {}
    /// A Linux abstract name (without the leading NUL; any bytes).
    static unix_endpoint abstract(std::string_view name);
    /// From a kernel-filled sockaddr (getsockname/getpeername/accept); an unnamed socket's address
    /// (only the family) gives an unnamed endpoint. Not AF_UNIX: address_family_not_supported.
    static result<unix_endpoint> from_sockaddr(const sockaddr* addr, socklen_t len);

    [[nodiscard]] bool is_abstract() const noexcept { return abstract_; }
    [[nodiscard]] bool is_unnamed() const noexcept { return !abstract_ && name_.empty(); }
    /// The path, or the abstract name without its leading NUL.
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    /// The path, "@name" for an abstract name (as ss(8) shows it), "" when unnamed.
    [[nodiscard]] std::string to_string() const;

    /// Fills `out` and `len` for bind/connect. Errors: filename_too_long, invalid_argument (see
    /// the top of this file); `out` is then unspecified.
    result<void> to_sockaddr(sockaddr_un& out, socklen_t& len) const noexcept;

    friend bool operator==(const unix_endpoint&, const unix_endpoint&) = default;

private:
    std::string name_;
    bool abstract_ = false;
};

}  // namespace coil
