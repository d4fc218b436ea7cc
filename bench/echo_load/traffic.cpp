// Traffic: one writer and one reader per connection. The writer sends while it has credit; the
// reader verifies every echoed byte against the tape, records each completed message's round trip
// and returns credit. The per-message path allocates nothing: per connection there is one receive
// buffer and a ring of send timestamps.

#include "bench/echo_load/traffic.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "bench/echo_load/clock.hpp"
#include "bench/echo_load/errors.hpp"
#include "bench/echo_load/exit_codes.hpp"
#include "coil/runtime/cancel.hpp"
#include "coil/runtime/when_all.hpp"

namespace echo_load {
namespace {
void stamp_send_times(connection& c, const run_state& s, std::uint64_t count, nanos now) noexcept {
    for (std::uint64_t seq = c.handed; seq < c.handed + count; ++seq) c.send_times[seq % s.cfg.depth] = now;
}

// Keeps `depth` messages in flight: hands everything the credit allows to one send (consecutive
// messages are contiguous on the tape), then waits for the reader to return credit.
coil::task<void> write_messages(connection& c, run_state& s) {
    const std::size_t size = s.cfg.size;
    while (!c.finished) {
        const std::uint64_t credit = s.cfg.depth - c.in_flight();
        if (credit == 0) {
            co_await c.writer_wakeup.wait();
            continue;
        }
        const std::uint64_t count = std::min<std::uint64_t>(credit, s.send_batch);
        stamp_send_times(c, s, count, now_ns());
        auto bytes = s.tape.bytes(c.stream_start + c.handed * size, count * size);
        c.handed += count;
        while (!bytes.empty()) {
            auto sent = co_await c.stream.send(bytes);
            if (!sent) {
                end_connection(c, s, classify(sent.error()));
                co_return;
            }
            bytes = bytes.subspan(*sent);
        }
    }
}

// True if `bytes`, arriving after what the connection already received, are what was sent.
bool echo_matches(const connection& c, const run_state& s, std::span<const std::byte> bytes) noexcept {
    if (c.bytes_received + bytes.size() > c.handed * s.cfg.size) return false;  // more than was sent
    return s.tape.matches(c.stream_start + c.bytes_received, bytes);
}

// Records every message completed by the bytes received so far; returns how many.
std::uint64_t complete_messages(connection& c, run_state& s, nanos now) noexcept {
    const std::uint64_t complete = c.bytes_received / s.cfg.size;
    const std::uint64_t newly = complete - c.received;
    for (; c.received < complete; ++c.received) {
        s.record_echo(now, now - c.send_times[c.received % s.cfg.depth]);
    }
    return newly;
}

// Verifies, records and returns credit until the connection ends. No yields here: on epoll a
// receive with data waiting completes without suspending, but the runtime's cooperative budget
// keeps one connection whose server keeps up from starving the others.
coil::task<void> read_messages(connection& c, run_state& s) {
    const std::span<std::byte> buffer(c.receive_buffer.get(), s.receive_size);
    while (!c.finished) {
        auto got = co_await c.stream.recv(buffer);
        if (!got) {
            end_connection(c, s, classify(got.error()));
            co_return;
        }
        const auto bytes = buffer.first(*got);
        if (c.finished) co_return;
        if (!echo_matches(c, s, bytes)) {
            end_connection(c, s, error_kind::mismatch);
            co_return;
        }
        c.bytes_received += bytes.size();
        if (complete_messages(c, s, now_ns()) > 0) c.writer_wakeup.notify();
    }
}

}  // namespace

// Runs one connection's writer and reader under the connection's own cancel scope (which also
// follows the run's), then closes it.
coil::task<void> drive_connection(connection& c, run_state& s) {
    c.cancel.link_to(co_await coil::current_cancel_token());
    c.active = true;
    auto exchange = coil::when_all(write_messages(c, s), read_messages(c, s));
    exchange.set_cancel_token(c.cancel.token());
    co_await std::move(exchange);
    c.active = false;
    c.cancel.link_to(coil::cancel_token{});  // the parent scope dies before this connection
    c.stream.close();
    if (--s.live == 0 && !s.stopping) request_stop(s, "every connection failed", exit_run_failed);
}

}  // namespace echo_load
