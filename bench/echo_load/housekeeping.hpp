#pragma once
// Housekeeping tasks that run beside the traffic: the stall watchdog, the per-second progress
// line, the measured window (server samples at both ends) and the two stop guards (hard
// deadline, SIGINT/SIGTERM).

#include "bench/echo_load/run_state.hpp"
#include "coil/runtime/signal_set.hpp"
#include "coil/runtime/task.hpp"

namespace echo_load {

// Every period, ends each connection whose oldest unanswered message is older than --timeout.
coil::task<void> watch_for_stalls(run_state& s);

// One line on stderr per second of traffic: the rate over that second and the errors so far.
coil::task<void> report_progress(run_state& s);

// Samples the server at the start and the end of the window (or at an early stop).
coil::task<void> measure_window(run_state& s);

// Stops the run if it is still going at the hard deadline (warmup + duration + 10 s).
coil::task<void> stop_at_hard_deadline(run_state& s);

// Stops the run on SIGINT or SIGTERM (exit status 130).
coil::task<void> stop_on_signal(coil::signal_set& signals, run_state& s);

}  // namespace echo_load
