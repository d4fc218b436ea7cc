#pragma once
// The run's phases: connect -> warm-up -> measured window -> stop, with the stop guards beside
// them, and every connection closed at the end.

#include "bench/echo_load/run_state.hpp"
#include "coil/runtime/signal_set.hpp"
#include "coil/runtime/task.hpp"

namespace echo_load {

// The whole run on the event loop: the phases under the run's stop scope, guarded by the hard
// deadline and by SIGINT/SIGTERM. Returns with every task done and every connection closed.
coil::task<void> run_benchmark(run_state& s, coil::signal_set& signals);

}  // namespace echo_load
