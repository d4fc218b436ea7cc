#include "coil/runtime/unique_fd.hpp"

#include <unistd.h>

#include "coil/runtime/event_loop.hpp"

namespace coil {

void unique_fd::reset(int fd) noexcept {
    const int old = std::exchange(fd_, fd);
    if (old < 0) return;
    if (event_loop* loop = event_loop::current()) loop->fd_closing(old);
    ::close(old);  // not retried on EINTR: on Linux the fd is released regardless
}

}  // namespace coil
