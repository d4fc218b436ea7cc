#include "coil/net/resolve.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>

#include <optional>

namespace coil {

namespace {

static_assert(static_cast<int>(resolve_errc::host_not_found) == EAI_NONAME);
static_assert(static_cast<int>(resolve_errc::try_again) == EAI_AGAIN);
static_assert(static_cast<int>(resolve_errc::no_recovery) == EAI_FAIL);
static_assert(static_cast<int>(resolve_errc::no_address) == EAI_NODATA);
static_assert(static_cast<int>(resolve_errc::service_not_found) == EAI_SERVICE);

class gai_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "getaddrinfo"; }
    std::string message(int code) const override { return ::gai_strerror(code); }
};

bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

// A decimal port, or nullopt for anything else (a service name, or out of range).
std::optional<std::uint16_t> numeric_port(std::string_view service) {
    if (service.empty()) return std::uint16_t{0};
    unsigned value = 0;
    auto [end, ec] = std::from_chars(service.data(), service.data() + service.size(), value);
    if (ec != std::errc{} || end != service.data() + service.size() || value > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

// True for what getaddrinfo takes as a number rather than a service name: glibc reads the service
// with strtoul (leading white space, a sign, decimal digits, up to the end) and keeps only the low
// 16 bits of the value, so "70000" would become port 4464 and "-1" port 65535.
bool numeric_to_getaddrinfo(std::string_view service) {
    std::size_t i = 0;
    while (i < service.size() && (service[i] == ' ' || (service[i] >= '\t' && service[i] <= '\r'))) ++i;
    if (i < service.size() && (service[i] == '+' || service[i] == '-')) ++i;
    if (i == service.size()) return false;
    for (; i < service.size(); ++i) {
        if (service[i] < '0' || service[i] > '9') return false;
    }
    return true;
}

// Runs on a pool thread: only its arguments, no loop state.
result<std::vector<ip_endpoint>> lookup(const std::string& host, const std::string& service) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    // No AI_ADDRCONFIG: on a host with loopback only it would hide "localhost"'s addresses.
    addrinfo* list = nullptr;
    const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(),
                                 service.empty() ? nullptr : service.c_str(), &hints, &list);
    if (rc != 0) return resolve_error(rc, errno);
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(list, &::freeaddrinfo);
    std::vector<ip_endpoint> out;
    for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
        auto ep = ip_endpoint::from_sockaddr(ai->ai_addr, ai->ai_addrlen);
        if (ep && std::find(out.begin(), out.end(), *ep) == out.end()) out.push_back(*ep);
    }
    if (out.empty()) return resolve_errc::no_address;
    return out;
}

// Made outside the coroutine, which keeps the lambda out of the co_await expression (see
// thread_pool::run on the GCC 12 miscompilation that this once hit).
offload_awaitable<result<std::vector<ip_endpoint>>> start_lookup(thread_pool& pool, std::string host,
                                                                 std::string service) {
    return pool.run([host = std::move(host), service = std::move(service)] {
        return lookup(host, service);
    });
}

}  // namespace

const std::error_category& resolve_category() noexcept {
    static const gai_category category;
    return category;
}

std::error_code make_error_code(resolve_errc e) noexcept {
    return {static_cast<int>(e), resolve_category()};
}

std::error_code resolve_error(int eai, int saved_errno) noexcept {
    if (eai == EAI_SYSTEM) return errno_code(saved_errno != 0 ? saved_errno : EIO);
    return {eai, resolve_category()};
}

task<result<std::vector<ip_endpoint>>> resolve(std::string host, std::string service,
                                               thread_pool& pool) {
    if (has_nul(host) || has_nul(service)) co_return std::errc::invalid_argument;
    // An address literal needs no lookup: convert it here, without a thread hop or DNS.
    const std::optional<std::uint16_t> port = numeric_port(service);
    if (!port && numeric_to_getaddrinfo(service)) co_return std::errc::invalid_argument;
    if (port) {
        if (auto literal = ip_endpoint::from_address(host, *port)) {
            co_return std::vector<ip_endpoint>{*literal};
        }
    }
    auto job = start_lookup(pool, std::move(host), std::move(service));
    auto answer = co_await std::move(job).abandon_on_cancel();
    if (!answer) co_return answer.error();
    co_return std::move(*answer);
}

task<result<std::vector<ip_endpoint>>> resolve(std::string host, std::string service) {
    return resolve(std::move(host), std::move(service), thread_pool::default_pool());
}

}  // namespace coil
