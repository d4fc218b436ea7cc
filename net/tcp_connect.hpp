#pragma once
// coil::tcp_connect: opens a TCP connection.
//
//     auto stream = co_await coil::tcp_connect(coil::ip_endpoint::loopback_v4(port), 2s);
//
// Result: a connected stream, std::errc::timed_out if the handshake did not finish in time, or
// the OS error (connection_refused, network_unreachable, ...).
// Cancellation: honours the task's cancel token (operation_canceled).

#include <chrono>

#include "coil/net/ip_endpoint.hpp"
#include "coil/net/tcp_stream.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

task<result<tcp_stream>> tcp_connect(ip_endpoint endpoint, std::chrono::nanoseconds timeout);

}  // namespace coil
