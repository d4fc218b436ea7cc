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

/// Messages below this level are dropped before the handler is called (default: info).
void set_log_level(log_level minimum) noexcept;

void log(log_level level, std::string_view message);

std::string_view to_string(log_level level) noexcept;

}  // namespace coil
