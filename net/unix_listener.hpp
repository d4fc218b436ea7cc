#pragma once
// coil::unix_listener: a listening Unix domain stream socket that accepts connections with
// co_await.
//
//     auto listener = coil::unix_listener::bind(coil::unix_endpoint("/run/app.sock")).value();
//     for (;;) {
//         auto conn = co_await listener.accept();     // result<unix_stream>
//         ...
//     }
//
// Result: accept yields a connected stream (non-blocking, close-on-exec), or the OS error.
// Accepting, closing, cancellation, lifetime and threading are coil::listening_socket's
// (net/listening_socket.hpp), shared with tcp_listener: on io_uring one multishot accept serves
// all accept() calls; EMFILE/ENFILE and ECONNABORTED are ordinary results (back off, keep
// serving); closing the listener ends the accepts waiting in other tasks with operation_canceled.
//
// The socket file (filesystem paths only; an abstract name has none):
// - bind over an existing path: if it is a socket file that no socket holds any more (a server
//   that died without cleaning up left it), bind removes it and binds; if a socket still holds it
//   (a listener, or any socket bound there, of any type), the result is std::errc::address_in_use
//   and nothing is touched; if it is not a socket (a regular file, a directory, ...), also
//   address_in_use and it is left as it is. The check is a datagram connect to the path, which
//   is refused only when no socket is bound there and makes no connection to a live server (it
//   sees nothing). This is what Go and tokio users write by hand. The check and the removal are
//   not atomic: two servers starting on one path at the same instant may both see the stale
//   file; run one server per path.
// - close() (or destruction) removes the socket file, if the path still names the very file this
//   listener created (same device and inode): one that another process has put there since is
//   left alone. A moved-from listener removes nothing. The file is not removed if the process
//   dies without closing (then the next bind finds it stale, above; on io_uring only once the
//   kernel has torn the dead process's ring down: see "Restart after a crash" in
//   net/listening_socket.hpp).
// - File permissions: the socket file gets 0777 minus the umask; connecting needs write
//   permission on it. Set the umask (or chmod after bind) to restrict who may connect.
// Errors of bind: the endpoint's (filename_too_long, invalid_argument; see unix_endpoint), the
// stale-file rule's address_in_use, or the OS error (no_such_file_or_directory for a missing
// directory, permission_denied, ...).

#include <sys/socket.h>
#include <sys/types.h>

#include <utility>

#include "coil/net/listening_socket.hpp"
#include "coil/net/unix_endpoint.hpp"
#include "coil/net/unix_stream.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

class unix_listener : public listening_socket {
public:
    unix_listener() noexcept = default;
    unix_listener(unix_listener&& other) noexcept;
    unix_listener& operator=(unix_listener&& other) noexcept;
    ~unix_listener();

    /// socket + bind (with the stale-file rule above) + listen. Needs the thread's event loop
    /// (std::logic_error without one).
    static result<unix_listener> bind(const unix_endpoint& endpoint, int backlog = SOMAXCONN);

    /// Waits for and accepts one connection.
    task<result<unix_stream>> accept();

    /// The address bound.
    [[nodiscard]] const unix_endpoint& local_endpoint() const noexcept { return local_; }

    /// Closes the socket (see listening_socket::close) and removes its file (see above).
    void close() noexcept;

private:
    unix_listener(unique_fd fd, unix_endpoint local, dev_t dev, ino_t ino)
        : listening_socket(std::move(fd)),
          local_(std::move(local)),
          dev_(dev),
          ino_(ino),
          owns_file_(!local_.is_abstract()) {}
    void remove_file() noexcept;

    unix_endpoint local_;
    dev_t dev_ = 0;  // the socket file this listener made (filesystem paths only)
    ino_t ino_ = 0;
    bool owns_file_ = false;
};

}  // namespace coil
