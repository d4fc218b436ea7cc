#pragma once
// The last-resort guard: a thread that exits the process if the run has not ended a few seconds
// after the hard deadline.

#include <atomic>

#include "bench/echo_load/clock.hpp"

namespace echo_load {

// Set once the event loop has returned: the guard then does nothing.
extern std::atomic<bool> run_over;

// A last resort if the loop cannot stop after the hard deadline (it should, on its own): exits.
void start_stuck_guard(nanos hard_deadline);

}  // namespace echo_load
