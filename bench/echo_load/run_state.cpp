// The run state's sizing (receive buffer, send batch, tape, hard deadline) and the two early
// endings: of the whole run and of one connection.

#include "bench/echo_load/run_state.hpp"

#include <algorithm>
#include <utility>

namespace echo_load {
namespace {

constexpr std::size_t largest_send = 64 * 1024;          // bytes handed to one send, at most
constexpr std::size_t largest_receive_buffer = 64 * 1024;
constexpr std::size_t smallest_receive_buffer = 4 * 1024;
constexpr std::size_t receive_memory_budget = std::size_t{256} << 20;  // all connections together
constexpr nanos hard_deadline_slack = 10'000'000'000;

std::size_t receive_buffer_size(const config& cfg) {
    const std::size_t per_connection = std::clamp(receive_memory_budget / cfg.connections,
                                                  smallest_receive_buffer, largest_receive_buffer);
    return std::min(cfg.size * cfg.depth, per_connection);
}

std::size_t messages_per_send(const config& cfg) {
    return std::clamp<std::size_t>(largest_send / cfg.size, 1, cfg.depth);
}

}  // namespace

run_state::run_state(const config& c, const coil::ip_endpoint& target, nanos started)
    : cfg(c),
      endpoint(target),
      receive_size(receive_buffer_size(c)),
      send_batch(messages_per_send(c)),
      tape(c.size, std::max(receive_size, send_batch * c.size)),
      message_timeout(seconds_to_ns(c.timeout_s)),
      hard_deadline(started + seconds_to_ns(c.warmup_s + c.duration_s) + hard_deadline_slack),
      connections(std::make_unique<connection[]>(c.connections)) {
    if (c.stat_pid) server.probe.emplace(*c.stat_pid);
}

void request_stop(run_state& s, std::string reason, int exit_code) {
    if (s.stopping) return;
    s.stopping = true;
    s.early_stop = stop_request{std::move(reason), exit_code};
    if (s.traffic_start != 0) s.measure_end = std::clamp(now_ns(), s.measure_start, s.measure_end);
    s.stop.request_cancel();
}

void end_connection(connection& c, run_state& s, error_kind kind) {
    if (c.finished) return;
    c.finished = true;
    if (!s.stopping) s.errors.add(kind);
    c.cancel.request_cancel();
    c.writer_wakeup.notify();
}

}  // namespace echo_load
