#pragma once
// coil::udp_socket: a UDP socket (IPv4 or IPv6) that sends and receives datagrams with co_await.
//
//     auto sock = coil::udp_socket::bind(coil::ip_endpoint::loopback_v4(0)).value();
//     std::array<std::byte, 1500> buf;
//     auto got = co_await sock.recv_from(buf);         // result<datagram_info>
//     if (got && !got->truncated) co_await sock.send_to(std::span(buf).first(got->size), got->sender);
//
// Result: recv_from yields a datagram_info: `size` bytes of the datagram were written to the
// start of the buffer, `sender` is where it came from, and `truncated` says the datagram was
// longer than the buffer: the kernel kept only the first `size` bytes and discarded the rest
// (MSG_TRUNC, recvmsg(2)). Truncation is a flag, not an error, on purpose: the datagram is gone
// either way, and an error would also lose the sender and the prefix that a server needs to
// answer "too large" or to count the drop (tokio returns the short size with no sign at all;
// Asio errors with message_size and so hides who sent it). Check it: a truncated datagram is
// not the message its sender sent. send_to/send yield the bytes sent, which is always the whole
// datagram (UDP sends whole or not at all; std::errc::message_size for one larger than the
// protocol allows, 65,507 bytes of payload over IPv4).
// Empty datagrams are real messages: send_to and send of an empty buffer send an empty datagram,
// and recv_from/recv deliver one as size 0 (never errc::eof: a datagram socket has no end of
// stream). A recv_from with an empty buffer waits for a datagram, consumes it and reports
// size 0, truncated if the datagram was not empty.
// Errors: a connected socket may report std::errc::connection_refused from recv/send after an
// earlier datagram met a closed port (ICMP port unreachable, udp(7)); the socket stays usable.
// IPv6: a socket bound to an IPv6 endpoint is dual-stack (IPV6_V6ONLY off, set explicitly so
// the net.ipv6.bindv6only sysctl does not decide), as tcp_listener's default: bound to [::] it
// also serves IPv4 peers, which then appear as IPv4-mapped senders ([::ffff:a.b.c.d]:port) and
// can be answered with send_to(sender). Set udp_options::v6_only for an IPv6-only socket.
// Lifetime: buffers must stay valid until the co_await finishes (the endpoint given to send_to
// is copied). The socket must outlive the operations it started (they are coroutines bound to
// it). Move-only; it closes when destroyed, after any operation still in flight in another task
// has completed (those are cancelled first, see io_handle). It may outlive its event loop.
// Cancellation: every operation honours the awaiting task's cancel token (with_timeout & co.):
// a cancelled recv_from ends with operation_canceled (or timed_out) and then consumed nothing,
// or, if a datagram won the race, delivers it (use it); the socket stays usable either way. Closing the socket (close() or destruction) while another task's
// operation is pending ends it with operation_canceled, on both backends; an operation started
// after close() gets bad_file_descriptor.
// Threading: use a socket on the loop thread that created it.

#include <cstddef>
#include <span>

#include "coil/net/ip_endpoint.hpp"
#include "coil/runtime/io_handle.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"
#include "coil/runtime/unique_fd.hpp"

namespace coil {

/// What recv_from / recv received (see the header comment).
struct datagram_info {
    std::size_t size = 0;    ///< bytes of the datagram now at the start of the buffer
    ip_endpoint sender;      ///< where the datagram came from
    bool truncated = false;  ///< the datagram was longer than the buffer; the rest is discarded
};

struct udp_options {
    bool reuse_address = false; ///< SO_REUSEADDR
    bool reuse_port = false;    ///< SO_REUSEPORT: several sockets (threads) share the port
    bool v6_only = false;       ///< IPV6_V6ONLY for an IPv6 endpoint (default: dual-stack)
};

class udp_socket {
public:
    udp_socket() noexcept = default;

    /// socket + setsockopt + bind(2). Port 0: the kernel picks a free port (local_endpoint()
    /// says which). A client binds port 0 of any_v4()/any_v6() or of the loopback address.
    /// Needs the thread's event loop (for the fd owner). Result: the socket, or the OS error
    /// (address_in_use, address_not_available for ::1 without IPv6, ...).
    static result<udp_socket> bind(const ip_endpoint& endpoint, const udp_options& options = {});

    /// connect(2): fixes the peer. send/recv then need no address, and datagrams from any other
    /// sender are dropped by the kernel. Immediate (UDP has no handshake). Calling it again
    /// changes the peer.
    result<void> connect(const ip_endpoint& peer) const noexcept;

    /// Sends `buf` as one datagram to `to`. Result: bytes sent (buf.size()) or the OS error.
    task<result<std::size_t>> send_to(std::span<const std::byte> buf, ip_endpoint to) const;
    /// Waits for one datagram and receives it into `buf` (see datagram_info).
    task<result<datagram_info>> recv_from(std::span<std::byte> buf) const;

    /// Connected socket only: sends `buf` as one datagram to the peer (not connected:
    /// destination_address_required).
    task<result<std::size_t>> send(std::span<const std::byte> buf) const;
    /// Connected socket only (else like recv_from): receives one datagram from the peer;
    /// `sender` is the peer.
    task<result<datagram_info>> recv(std::span<std::byte> buf) const { return recv_from(buf); }

    /// The bound address, with the port the kernel chose for port 0.
    [[nodiscard]] result<ip_endpoint> local_endpoint() const;
    /// The connected peer; std::errc::not_connected if connect() was not called.
    [[nodiscard]] result<ip_endpoint> peer_endpoint() const;

    [[nodiscard]] bool is_open() const noexcept { return handle_.valid(); }
    [[nodiscard]] int native_handle() const noexcept { return handle_.fd(); }

    /// Closes now (or, with operations in flight elsewhere, cancels them and closes after).
    void close() noexcept { handle_.reset(); }

private:
    explicit udp_socket(unique_fd fd) : handle_(std::move(fd)) {}

    io_handle handle_;
};

}  // namespace coil
