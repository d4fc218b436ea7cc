#pragma once
// coil::unix_connect: opens a connection to a Unix domain stream socket.
//
//     auto stream = co_await coil::unix_connect(coil::unix_endpoint("/run/app.sock"), 2s);
//
// Result: a connected stream; the endpoint's errors (filename_too_long, invalid_argument; see
// unix_endpoint); coil::errc::timed_out if the connect did not finish within `timeout`; or the
// OS error: no_such_file_or_directory (no socket file), connection_refused (a file whose socket
// is gone, or an abstract name nobody has bound), permission_denied (no write permission on the
// socket file). A listener whose backlog is full makes the kernel answer EAGAIN; depending on
// the backend and kernel the connect then waits for room (until `timeout`) or ends with
// resource_unavailable_try_again: bound it with `timeout` (not tested here).
// Timeout: as tcp_connect's (measured from when the task starts; nanoseconds::max() means none).
// Cancellation: honours the task's cancel token (operation_canceled).

#include <chrono>

#include "coil/net/unix_endpoint.hpp"
#include "coil/net/unix_stream.hpp"
#include "coil/runtime/detail/deadline.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

task<result<unix_stream>> unix_connect(unix_endpoint endpoint, std::chrono::nanoseconds timeout);

/// Any other duration type: clamped to nanoseconds first, then as above.
template <class Rep, class Period>
task<result<unix_stream>> unix_connect(unix_endpoint endpoint, std::chrono::duration<Rep, Period> timeout) {
    return unix_connect(std::move(endpoint), detail::to_clock_duration(timeout));
}

}  // namespace coil
