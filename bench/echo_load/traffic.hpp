#pragma once
// Traffic on one connection: a writer and a reader coroutine, run together until the connection
// ends or the run stops.

#include "bench/echo_load/connection.hpp"
#include "bench/echo_load/run_state.hpp"
#include "coil/runtime/task.hpp"

namespace echo_load {

// Runs one connection's writer and reader under the connection's own cancel scope (which also
// follows the run's), then closes it.
coil::task<void> drive_connection(connection& c, run_state& s);

}  // namespace echo_load
