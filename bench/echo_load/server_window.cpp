// Sampling the measured window: the server's CPU time at both ends and its RSS at the end, and
// this process's own CPU time (getrusage) over the same span.

#include "bench/echo_load/server_window.hpp"

#include <sys/resource.h>

#include <algorithm>

namespace echo_load {
namespace {

// This process's CPU time (user + system), in seconds.
double own_cpu_seconds() noexcept {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    const auto seconds = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

void server_window::begin() {
    begun = true;
    client_cpu_at_start = own_cpu_seconds();
    if (probe) cpu_at_start = probe->cpu_seconds();
}

void server_window::end() {
    if (ended || !begun) return;
    ended = true;
    client_cpu_s = own_cpu_seconds() - client_cpu_at_start;
    if (!probe || !cpu_at_start) return;
    cpu_at_end = probe->cpu_seconds();
    rss_kb = probe->rss_kb();
}

std::optional<double> server_window::cpu_seconds() const {
    if (!cpu_at_start || !cpu_at_end) return std::nullopt;
    return std::max(0.0, *cpu_at_end - *cpu_at_start);
}

}  // namespace echo_load
