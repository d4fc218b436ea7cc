// echo_load: an echo load generator written on coil itself.
//
// Opens N TCP connections to an echo server and keeps K messages of B bytes in flight on each
// (K = 1: ping-pong; K > 1: pipelined, one new message per complete echo). Every echoed byte is
// checked, each message's round trip goes into a log-linear histogram, and at the end it reports
// throughput, latency percentiles, errors by kind and, with --stat-pid, the server's CPU time over
// the measured window and its RSS. One thread, one coil event loop (io_uring or epoll).
//
// Run it:
//     build/release/bench/baselines/baseline_epoll --port 0   # prints "listening on 127.0.0.1:PORT"
//     build/release/bench/echo_load --port PORT --connections 100 --duration 3 --json
// bench/echo_bench.py drives it over a ladder of points; `echo_load --help` lists every flag.
//
// Timeline: connect (at most --connect-concurrency attempts in flight) -> warm-up (traffic, not
// counted) -> measured window -> stop (cancel every task, await them, close). A hard deadline of
// warmup + duration + 10 s from the start ends the run early, reporting what was measured.
//
// GCC 12.2 (Debian 12) miscompiles a co_await inside an if/while/for condition (the frame comes out
// too small and the coroutine overwrites its heap neighbour; GCC PR 106188, fixed in 12.3), so
// every co_await in this folder is a statement of its own, its result kept in a local.
//
// Files: options (command line), fd_limit, server_probe + server_window (/proc), clock,
// latency_histogram, errors, pattern_tape (the byte pattern), wake_signal, connection,
// run_state, traffic (writer and reader), housekeeping, phases, report, number_format,
// stuck_guard; this file holds main.

#include <csignal>
#include <cstdio>
#include <exception>
#include <string>

#include "bench/echo_load/clock.hpp"
#include "bench/echo_load/exit_codes.hpp"
#include "bench/echo_load/fd_limit.hpp"
#include "bench/echo_load/options.hpp"
#include "bench/echo_load/phases.hpp"
#include "bench/echo_load/report.hpp"
#include "bench/echo_load/run_state.hpp"
#include "bench/echo_load/stuck_guard.hpp"
#include "coil/runtime/backend_kind.hpp"
#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/signal_set.hpp"

namespace echo_load {
namespace {

int run(const config& cfg) {
    const nanos started = now_ns();
    if (auto problem = raise_fd_limit(cfg.connections)) {
        std::fprintf(stderr, "echo_load: error: %s\n", problem->c_str());
        return exit_run_failed;
    }
    coil::event_loop loop(coil::loop_options{cfg.backend});
    coil::signal_set signals{SIGINT, SIGTERM};
    run_state state(cfg, parse_endpoint(cfg), started);
    state.backend = std::string(coil::to_string(loop.backend()));
    start_stuck_guard(state.hard_deadline);
    loop.run(run_benchmark(state, signals));
    run_over.store(true);

    const report r = make_report(state);
    if (cfg.json) {
        print_summary(stderr, state, r);
        std::printf("%s\n", to_json(state, r).c_str());
        std::fflush(stdout);
    } else {
        print_summary(stdout, state, r);
        std::fflush(stdout);
    }
    if (r.failure) std::fprintf(stderr, "echo_load: error: %s\n", r.failure->c_str());
    return r.exit_code;
}

}  // namespace
}  // namespace echo_load

int main(int argc, char** argv) {
    using namespace echo_load;
    int exit_code = exit_ok;
    const auto cfg = read_config(argc, argv, exit_code);
    if (!cfg) return exit_code;
    try {
        return run(*cfg);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_load: error: %s\n", e.what());
        return exit_run_failed;
    }
}
