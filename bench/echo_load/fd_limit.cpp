// The file-descriptor limit: raising RLIMIT_NOFILE so that every connection gets its fd.

#include "bench/echo_load/fd_limit.hpp"

#include <sys/resource.h>

namespace echo_load {
namespace {

constexpr std::size_t spare_fds = 64;

}  // namespace

std::optional<std::string> raise_fd_limit(std::size_t connections) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
    if (limit.rlim_cur < limit.rlim_max) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    }
    const rlim_t needed = connections + spare_fds;
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
        return "--connections " + std::to_string(connections) + " needs " + std::to_string(needed) +
               " file descriptors, but RLIMIT_NOFILE is " + std::to_string(limit.rlim_cur) +
               " (hard limit " + std::to_string(limit.rlim_max) +
               "); raise the hard limit (ulimit -Hn, limits.conf) or use fewer connections";
    }
    return std::nullopt;
}

}  // namespace echo_load
