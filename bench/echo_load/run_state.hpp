#pragma once
// The state of one run: the configuration and what follows from it, the connections, the
// timeline (warm-up, measured window), the counts, and the two ways things end early: stopping
// the whole run (request_stop) and ending one connection (end_connection).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "bench/echo_load/clock.hpp"
#include "bench/echo_load/connection.hpp"
#include "bench/echo_load/errors.hpp"
#include "bench/echo_load/exit_codes.hpp"
#include "bench/echo_load/latency_histogram.hpp"
#include "bench/echo_load/options.hpp"
#include "bench/echo_load/pattern_tape.hpp"
#include "bench/echo_load/server_window.hpp"
#include "coil/net/ip_endpoint.hpp"
#include "coil/runtime/cancel.hpp"

namespace echo_load {

struct stop_request {
    std::string reason;
    int exit_code = exit_run_failed;
};

struct run_state {
    run_state(const config& c, const coil::ip_endpoint& target, nanos started);

    const config& cfg;
    const coil::ip_endpoint endpoint;
    const std::size_t receive_size;
    const std::size_t send_batch;
    const pattern_tape tape;
    const nanos message_timeout;
    const nanos hard_deadline;

    // Declared before the connections: each connection's cancel source links to a scope below it.
    coil::cancel_source stop;
    bool stopping = false;  // from here on, failures are the stop, not errors
    std::optional<stop_request> early_stop;

    std::unique_ptr<connection[]> connections;
    std::size_t next_to_connect = 0;
    std::size_t connected = 0;
    std::size_t live = 0;
    std::error_code first_connect_error;
    nanos connect_seconds_ns = 0;

    nanos traffic_start = 0;
    nanos measure_start = 0;
    nanos measure_end = 0;  // moved earlier by an early stop

    std::uint64_t completed_total = 0;  // warm-up and window
    std::uint64_t measured = 0;         // completed inside the window
    latency_histogram latency;
    error_counts errors;
    server_window server;
    std::string backend;

    void plan_timeline(nanos start) noexcept {
        traffic_start = start;
        measure_start = start + seconds_to_ns(cfg.warmup_s);
        measure_end = measure_start + seconds_to_ns(cfg.duration_s);
    }

    void record_echo(nanos now, nanos round_trip) noexcept {
        ++completed_total;
        if (now >= measure_start && now < measure_end) {
            ++measured;
            latency.record(round_trip);
        }
    }
};

// Stops the whole run early: the reason decides the exit status.
void request_stop(run_state& s, std::string reason, int exit_code);

// Ends one connection (once): counts `kind` unless the run is stopping, cancels what the
// connection has in flight and wakes its writer.
void end_connection(connection& c, run_state& s, error_kind kind);

}  // namespace echo_load
