#pragma once
// coil::resolve: host name and service to endpoints, with getaddrinfo(3) run on a thread pool.
//
//     auto endpoints = co_await coil::resolve("localhost", "8080");  // result<vector<ip_endpoint>>
//
// Result: the TCP endpoints getaddrinfo returns (AF_INET and AF_INET6, SOCK_STREAM), in its order
// (RFC 6724 destination address selection, as configured in /etc/gai.conf), duplicates removed;
// never empty on success. Errors are std::error_codes: getaddrinfo's EAI_* codes in
// resolve_category() (message: gai_strerror(3); compare with coil::resolve_errc, e.g.
// resolve_errc::host_not_found for EAI_NONAME), EAI_SYSTEM as the errno it stands for
// (std::system_category()), std::errc::invalid_argument for a host or service holding a NUL
// byte or for a numeric service that is not a port (see Service), and
// std::errc::operation_canceled.
// Host: a name, or an address literal ("127.0.0.1", "::1", "fe80::1%eth0"), which is converted
// at once on the calling thread: no pool thread, no DNS; or empty, which getaddrinfo answers with
// the loopback addresses (a null node without AI_PASSIVE). Service: a decimal port ("8080", 0 ..
// 65535, digits only), a service name from /etc/services ("http"), or empty (port 0); not both
// empty (host_not_found). Anything getaddrinfo would read as a number but is not such a port
// ("70000", "-1", "+80", " 80") is std::errc::invalid_argument: glibc would keep the number's low
// 16 bits and quietly use another port.
// Messages: the error_code's message is gai_strerror's ("Name or service not known"), which names
// neither the host nor the service; say which in your own log line.
// Threading: the lookup runs on `pool` (by default thread_pool::default_pool()) and the task
// resumes on its own loop (see runtime/thread_pool.hpp). getaddrinfo cannot be interrupted.
// Cancellation: honours the task's cancel token: the task ends at once with operation_canceled,
// also when the lookup already runs (it is then left to finish on the pool thread, its answer
// discarded).

#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "coil/net/ip_endpoint.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"
#include "coil/runtime/thread_pool.hpp"

namespace coil {

/// The category of getaddrinfo's EAI_* codes (the value is the EAI_* constant, negative on glibc).
const std::error_category& resolve_category() noexcept;

/// The getaddrinfo errors a caller may want to tell apart; see getaddrinfo(3).
enum class resolve_errc : int {
    host_not_found = -2,     // EAI_NONAME: no such name (or service) is known
    try_again = -3,          // EAI_AGAIN: a temporary failure of the name server
    no_recovery = -4,        // EAI_FAIL: a permanent failure of the name server
    no_address = -5,         // EAI_NODATA: the name exists but has no address
    service_not_found = -8,  // EAI_SERVICE: the service is unknown for TCP
};

std::error_code make_error_code(resolve_errc e) noexcept;
/// An error_code for getaddrinfo's return value `eai` (EAI_SYSTEM: from `saved_errno`).
std::error_code resolve_error(int eai, int saved_errno) noexcept;

task<result<std::vector<ip_endpoint>>> resolve(std::string host, std::string service,
                                               thread_pool& pool);
task<result<std::vector<ip_endpoint>>> resolve(std::string host, std::string service);

}  // namespace coil

template <>
struct std::is_error_code_enum<coil::resolve_errc> : std::true_type {};
