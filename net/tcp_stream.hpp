#pragma once
// coil::tcp_stream: a connected TCP socket, read and written with co_await.
//
//     auto n = co_await stream.recv(buf);              // result<std::size_t>
//     if (!n) { /* n.error(): coil::errc::eof when the peer closed, else the OS error */ }
//     auto ok = co_await stream.send_all(reply);       // transfer_result: if (!ok) ok.error()
//
// The stream operations (recv, send, send_all with its ordering and gathered form, recv_exact,
// shutdown, close) and their contract (results, empty buffers, lifetime, cancellation, threading)
// are coil::stream_socket's, in net/stream_socket.hpp, shared with unix_stream. Added here: the
// TCP option TCP_NODELAY and the IP endpoints of both ends.

#include "coil/net/ip_endpoint.hpp"
#include "coil/net/stream_socket.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/unique_fd.hpp"

namespace coil {

class tcp_stream : public stream_socket {
public:
    tcp_stream() noexcept = default;
    /// Takes a connected, non-blocking TCP socket.
    explicit tcp_stream(unique_fd fd) : stream_socket(std::move(fd)) {}

    /// TCP_NODELAY: send small messages at once instead of coalescing them (Nagle).
    result<void> set_nodelay(bool on = true) const noexcept;

    [[nodiscard]] result<ip_endpoint> local_endpoint() const;
    [[nodiscard]] result<ip_endpoint> peer_endpoint() const;
};

}  // namespace coil
