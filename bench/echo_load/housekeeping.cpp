// Housekeeping tasks: stall watchdog, progress, the measured window, stop guards. Each sleeps on
// coil's timers (or waits for a signal) and returns when cancelled at the end of the run.

#include "bench/echo_load/housekeeping.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "bench/echo_load/clock.hpp"
#include "bench/echo_load/number_format.hpp"
#include "coil/runtime/sleep.hpp"

namespace echo_load {
namespace {

void expire_stalled_connections(run_state& s, nanos now) {
    for (std::size_t i = 0; i < s.cfg.connections; ++i) {
        connection& c = s.connections[i];
        if (!c.active || c.finished || c.in_flight() == 0) continue;
        const nanos oldest_sent = c.send_times[c.received % s.cfg.depth];
        if (now - oldest_sent > s.message_timeout) end_connection(c, s, error_kind::timeout);
    }
}

}  // namespace

coil::task<void> watch_for_stalls(run_state& s) {
    const nanos period = std::clamp<nanos>(s.message_timeout / 4, 10'000'000, 250'000'000);
    for (;;) {
        const auto slept = co_await coil::sleep_for(std::chrono::nanoseconds(period));
        if (!slept) co_return;  // cancelled: the run is over
        expire_stalled_connections(s, now_ns());
    }
}

coil::task<void> report_progress(run_state& s) {
    constexpr nanos second = 1'000'000'000;
    nanos previous_time = s.traffic_start;
    std::uint64_t previous_count = 0;
    for (nanos next = s.traffic_start + second;; next += second) {
        const auto slept = co_await coil::sleep_until(to_time_point(next));
        if (!slept) co_return;  // cancelled: the run is over
        const nanos now = now_ns();
        const double rate = static_cast<double>(s.completed_total - previous_count) /
                            std::max(1e-9, ns_to_seconds(now - previous_time));
        std::fprintf(stderr, "echo_load: %6.1fs %-7s %12s msg/s  errors %s\n",
                     ns_to_seconds(now - s.traffic_start), now < s.measure_start ? "warmup" : "measure",
                     with_separators(static_cast<std::uint64_t>(std::llround(rate))).c_str(),
                     with_separators(s.errors.total()).c_str());
        previous_time = now;
        previous_count = s.completed_total;
    }
}

// Samples the server at the start and the end of the window (or at an early stop).
coil::task<void> measure_window(run_state& s) {
    const auto warmed_up = co_await coil::sleep_until(to_time_point(s.measure_start));
    if (warmed_up) {
        s.server.begin();
        (void)co_await coil::sleep_until(to_time_point(s.measure_end));
    }
    s.server.end();
}

coil::task<void> stop_at_hard_deadline(run_state& s) {
    const auto slept = co_await coil::sleep_until(to_time_point(s.hard_deadline));
    if (!slept) co_return;  // cancelled: the run ended in time
    request_stop(s, "hard deadline (warmup + duration + 10 s) reached before the run ended",
                 exit_run_failed);
}

coil::task<void> stop_on_signal(coil::signal_set& signals, run_state& s) {
    const auto signo = co_await signals.wait();
    if (!signo) co_return;
    request_stop(s, std::string("interrupted by ") + (*signo == SIGINT ? "SIGINT" : "SIGTERM"),
                 exit_interrupted);
}

}  // namespace echo_load
