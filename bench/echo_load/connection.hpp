#pragma once
// One connection's state, shared by its writer and reader coroutines (traffic.cpp), the stall
// watchdog and the connect phase.

#include <cstdint>
#include <memory>

#include "bench/echo_load/clock.hpp"
#include "bench/echo_load/wake_signal.hpp"
#include "coil/net/tcp_stream.hpp"
#include "coil/runtime/cancel.hpp"

namespace echo_load {

struct connection {
    std::uint32_t id = 0;
    coil::tcp_stream stream;
    coil::cancel_source cancel;  // ends this connection alone (failure, timeout)
    wake_signal writer_wakeup;
    std::unique_ptr<std::byte[]> receive_buffer;
    std::unique_ptr<nanos[]> send_times;  // by sequence number modulo depth
    std::uint64_t stream_start = 0;       // tape position of byte 0
    std::uint64_t handed = 0;             // messages handed to send
    std::uint64_t received = 0;           // messages echoed completely
    std::uint64_t bytes_received = 0;
    bool active = false;                  // traffic running
    bool finished = false;                // ended (failed, timed out or stopped)

    [[nodiscard]] std::uint64_t in_flight() const noexcept { return handed - received; }
};

}  // namespace echo_load
