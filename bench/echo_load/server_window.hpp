#pragma once
// The server's figures over the measured window (CPU time, RSS at the end), sampled through a
// server_probe, and the load generator's own CPU time over the same window.

#include <cstdint>
#include <optional>

#include "bench/echo_load/server_probe.hpp"

namespace echo_load {

// The server figures for the measured window (and the load generator's own CPU time).
struct server_window {
    std::optional<server_probe> probe;
    std::optional<double> cpu_at_start;
    std::optional<double> cpu_at_end;
    std::optional<std::uint64_t> rss_kb;
    double client_cpu_at_start = 0;
    std::optional<double> client_cpu_s;
    bool begun = false;
    bool ended = false;

    void begin();
    void end();
    [[nodiscard]] std::optional<double> cpu_seconds() const;
};

}  // namespace echo_load
