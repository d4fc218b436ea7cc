#include "coil/net/listening_socket.hpp"

namespace coil {

task<result<unique_fd>> listening_socket::accept_fd() {
    // Counted as in flight on the listener's fd: close() then cancels the wait (the acceptor
    // ends it with operation_canceled on both backends) and the fd closes after it.
    auto in_use = handle_.hold();
    co_return co_await connections_.accept();
}

}  // namespace coil
