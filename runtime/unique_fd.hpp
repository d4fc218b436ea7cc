#pragma once
// coil::unique_fd: the one owner of a file descriptor; closes it when destroyed.
//
// Closing goes through the thread's event loop (if any) first, so the backend forgets what it
// kept for the fd (epoll: registration, readiness memory; io_uring: the fixed-file slot).
// Rule: don't destroy the owner of an fd while another task's operation on it is in flight (epoll
// ends that op with operation_canceled, but on io_uring the kernel keeps the file open and the op
// waits on); io_handle, and so the net/ layer, enforces this (docs/lifetimes.md).

#include <utility>

namespace coil {

class unique_fd {
public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
    unique_fd& operator=(unique_fd&& other) noexcept {
        if (this != &other) reset(other.release());
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
    explicit operator bool() const noexcept { return valid(); }

    /// Gives up ownership without closing.
    [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
    /// Closes the current fd (errors ignored: the fd is gone either way) and owns `fd` instead.
    void reset(int fd = -1) noexcept;

private:
    int fd_ = -1;
};

}  // namespace coil
