#include "coil/runtime/log.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

namespace coil {
namespace {

std::mutex handler_mutex;
log_handler current_handler;  // empty = the stderr default
// warning: quiet unless something is wrong (see log.hpp).
std::atomic<log_level> minimum_level{log_level::warning};

void write_to_stderr(log_level level, std::string_view message) {
    std::string line = "coil: ";
    if (level >= log_level::warning) line.append(to_string(level)).append(": ");
    line.append(message).push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

log_handler set_log_handler(log_handler handler) {
    std::lock_guard lock(handler_mutex);
    std::swap(current_handler, handler);
    return handler;
}

void set_log_level(log_level minimum) noexcept { minimum_level.store(minimum); }

log_level get_log_level() noexcept { return minimum_level.load(); }

void log(log_level level, std::string_view message) {
    if (level < minimum_level.load(std::memory_order_relaxed)) return;
    std::lock_guard lock(handler_mutex);
    if (current_handler) {
        current_handler(level, message);
    } else {
        write_to_stderr(level, message);
    }
}

std::string_view to_string(log_level level) noexcept {
    switch (level) {
        case log_level::debug: return "debug";
        case log_level::info: return "info";
        case log_level::warning: return "warning";
        case log_level::error: return "error";
    }
    return "?";
}

}  // namespace coil
