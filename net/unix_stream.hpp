#pragma once
// coil::unix_stream: a connected Unix domain stream socket (AF_UNIX, SOCK_STREAM), read and
// written with co_await, as a tcp_stream is.
//
//     auto conn = co_await coil::unix_connect(coil::unix_endpoint("/run/app.sock"), 2s);
//     auto ok = co_await conn->send_all(request);      // transfer_result
//     auto who = conn->peer_credentials();              // result<unix_credentials>
//
// The stream operations (recv, send, send_all with its FIFO ordering and gathered form,
// recv_exact, shutdown, close) and their contract (results, empty buffers, lifetime,
// cancellation, threading) are coil::stream_socket's (net/stream_socket.hpp), the same as
// tcp_stream's; a unix_stream works with coil::buffered_reader like any readable stream.
// Added here: the peer's credentials and the addresses of both ends.

#include <sys/types.h>

#include <utility>

#include "coil/net/stream_socket.hpp"
#include "coil/net/unix_endpoint.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/unique_fd.hpp"

namespace coil {

/// Who is at the other end, as the kernel recorded it (SO_PEERCRED, unix(7)).
struct unix_credentials {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    friend bool operator==(const unix_credentials&, const unix_credentials&) = default;
};

class unix_stream : public stream_socket {
public:
    unix_stream() noexcept = default;
    /// Takes a connected, non-blocking AF_UNIX stream socket.
    explicit unix_stream(unique_fd fd) : stream_socket(std::move(fd)) {}

    /// Two streams connected to each other (socketpair(2)): for a parent and a child process,
    /// or tests. Non-blocking and close-on-exec. Needs the thread's event loop (std::logic_error
    /// without one), as every stream does.
    static result<std::pair<unix_stream, unix_stream>> pair();

    /// The peer process's pid, uid and gid, as they were when it connected (for a connecting
    /// client) or called listen (for the server side) — the kernel's record, not a claim of the
    /// peer's; the pid may have exited since. Errors: the OS error (bad_file_descriptor when
    /// closed).
    [[nodiscard]] result<unix_credentials> peer_credentials() const noexcept;

    /// This end's address: the listener's for an accepted stream; unnamed for a client that did
    /// not bind.
    [[nodiscard]] result<unix_endpoint> local_endpoint() const;
    /// The other end's address (unnamed for an accepted connection from an unbound client).
    [[nodiscard]] result<unix_endpoint> peer_endpoint() const;
};

}  // namespace coil
