#pragma once
// The report at the end of a run: throughput, latency percentiles, server figures and why the run
// failed (if it did), as a human summary and as one JSON object.

#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "bench/echo_load/exit_codes.hpp"
#include "bench/echo_load/run_state.hpp"

namespace echo_load {

struct report {
    double window_s = 0;
    double msgs_per_s = 0;
    double mb_per_s = 0;
    std::array<double, 5> latency_us{};  // p50, p90, p99, p99.9, max
    std::optional<double> server_cpu_s;
    std::optional<std::uint64_t> server_rss_kb;
    std::optional<std::string> failure;  // why the run failed: the exit status is then non-zero
    int exit_code = exit_ok;
};

// The figures of a finished run, and its exit status.
report make_report(const run_state& s);

// One line of JSON, the object bench/echo_bench.py reads.
std::string to_json(const run_state& s, const report& r);

// The human-readable summary, a few lines.
void print_summary(std::FILE* out, const run_state& s, const report& r);

}  // namespace echo_load
