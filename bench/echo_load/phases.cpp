// The run's phases: the connect phase (at most --connect-concurrency attempts in flight), then
// traffic with its housekeeping tasks through the warm-up and the measured window, then the stop
// (cancel every task, await them, close).

#include "bench/echo_load/phases.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <utility>

#include "bench/echo_load/clock.hpp"
#include "bench/echo_load/housekeeping.hpp"
#include "bench/echo_load/number_format.hpp"
#include "bench/echo_load/traffic.hpp"
#include "coil/net/tcp_connect.hpp"
#include "coil/net/tcp_stream.hpp"
#include "coil/runtime/task_group.hpp"

namespace echo_load {
namespace {

void open_connection(connection& c, run_state& s, coil::tcp_stream stream) {
    (void)stream.set_nodelay();  // can only fail on a socket that is not TCP
    c.stream = std::move(stream);
    c.stream_start = s.tape.start_of(c.id);
    c.receive_buffer = std::make_unique_for_overwrite<std::byte[]>(s.receive_size);
    c.send_times = std::make_unique<nanos[]>(s.cfg.depth);
    ++s.connected;
}

// Takes the next unopened connection until none is left: `connect_concurrency` of these bound
// the attempts in flight.
coil::task<void> connect_worker(run_state& s) {
    const auto timeout = std::chrono::nanoseconds(seconds_to_ns(s.cfg.connect_timeout_s));
    while (s.next_to_connect < s.cfg.connections && !s.stopping) {
        connection& c = s.connections[s.next_to_connect];
        c.id = static_cast<std::uint32_t>(s.next_to_connect++);
        auto stream = co_await coil::tcp_connect(s.endpoint, timeout);
        if (stream) {
            open_connection(c, s, std::move(*stream));
        } else if (!s.stopping) {
            s.errors.add(error_kind::connect);
            if (!s.first_connect_error) s.first_connect_error = stream.error();
        }
    }
}

coil::task<void> connect_all(run_state& s) {
    const nanos started = now_ns();
    coil::task_group workers(co_await coil::current_cancel_token());
    const std::size_t count = std::min(s.cfg.connect_concurrency, s.cfg.connections);
    for (std::size_t i = 0; i < count; ++i) workers.spawn(connect_worker(s));
    co_await workers.join();
    s.connect_seconds_ns = now_ns() - started;
}

void report_connect_phase(const run_state& s) {
    if (s.cfg.quiet && s.connected == s.cfg.connections) return;
    std::fprintf(stderr, "echo_load: connected %s of %s to %s in %.3f s",
                 with_separators(s.connected).c_str(), with_separators(s.cfg.connections).c_str(),
                 s.endpoint.to_string().c_str(), ns_to_seconds(s.connect_seconds_ns));
    if (s.first_connect_error) {
        std::fprintf(stderr, " (%s failed; first error: %s)",
                     with_separators(s.errors.by_kind[0]).c_str(),
                     s.first_connect_error.message().c_str());
    }
    std::fputc('\n', stderr);
}

void start_traffic(coil::task_group& traffic, run_state& s) {
    for (std::size_t i = 0; i < s.cfg.connections; ++i) {
        if (!s.connections[i].stream.is_open()) continue;
        ++s.live;
        traffic.spawn(drive_connection(s.connections[i], s));
    }
    traffic.spawn(watch_for_stalls(s));
    if (!s.cfg.quiet) traffic.spawn(report_progress(s));
}

// connect -> warm-up -> measured window -> stop. Runs under the run's stop scope.
coil::task<void> run_phases(run_state& s) {
    co_await connect_all(s);
    report_connect_phase(s);
    if (s.connected == 0 || s.stopping) co_return;
    s.plan_timeline(now_ns());
    coil::task_group traffic(co_await coil::current_cancel_token());
    start_traffic(traffic, s);
    co_await measure_window(s);
    s.stopping = true;
    traffic.cancel();
    co_await traffic.join();
}

void close_all(run_state& s) {
    for (std::size_t i = 0; i < s.cfg.connections; ++i) s.connections[i].stream.close();
}

}  // namespace

coil::task<void> run_benchmark(run_state& s, coil::signal_set& signals) {
    coil::task_group guards;
    guards.spawn(stop_at_hard_deadline(s));
    guards.spawn(stop_on_signal(signals, s));
    auto phases = run_phases(s);
    phases.set_cancel_token(s.stop.token());
    co_await std::move(phases);
    guards.cancel();
    co_await guards.join();
    close_all(s);
}

}  // namespace echo_load
