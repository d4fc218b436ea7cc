#include "coil/runtime/loop_stats.hpp"

namespace coil {

std::string to_key_values(const loop_stats& s) {
    // The order and names are a format other programs parse: append, never reorder or rename.
    std::string out;
    auto add = [&](const char* key, std::uint64_t value) {
        if (!out.empty()) out += ' ';
        out.append(key).append("=").append(std::to_string(value));
    };
    add("kernel_enters", s.kernel_enters);
    add("op_syscalls", s.op_syscalls);
    add("ctl_syscalls", s.ctl_syscalls);
    add("sqes_submitted", s.sqes_submitted);
    add("submits", s.submits);
    add("completions", s.completions);
    add("reaps", s.reaps);
    add("ops_in_flight", s.ops_in_flight);
    add("tasks_alive", s.tasks_alive);
    add("timers_armed", s.timers_armed);
    add("pool_buffers_in_use", s.pool_buffers_in_use);
    return out;
}

}  // namespace coil
