#pragma once
// The runtime's only way to say something: a log hook the application may redirect.
//
// Library code never writes to stdout/stderr directly. By default messages go to stderr as
// "coil: <message>". Threading: set_log_handler and log may be called from any thread; the handler
// is called with an internal lock held, so it must not call set_log_handler itself.

#include <functional>
#include <string_view>

namespace coil {

enum class log_level { debug, info, warning, error };

using log_handler = std::function<void(log_level, std::string_view message)>;

/// Replaces the handler; an empty handler restores the stderr default. Returns the previous one.
log_handler set_log_handler(log_handler handler);

/// Messages below this level are dropped before the handler is called. The default is
/// `warning`: a program built on coil prints nothing while all is well. `info` adds the backend
/// choice (once per process; a fallback from io_uring to epoll is logged as a warning), `debug`
/// adds detail. The choice is also queryable: event_loop::backend() and backend_reason().
void set_log_level(log_level minimum) noexcept;

/// The level set by set_log_level (`warning` until then).
[[nodiscard]] log_level get_log_level() noexcept;

void log(log_level level, std::string_view message);

std::string_view to_string(log_level level) noexcept;

}  // namespace coil
