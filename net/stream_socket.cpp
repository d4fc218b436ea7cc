#include "coil/net/stream_socket.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>

#include <cerrno>

#include "coil/runtime/detail/write_turn.hpp"
#include "coil/runtime/errc.hpp"

namespace coil {

// The contiguous send_all is send_all_awaitable (net/send_all_awaitable.cpp): no frame when its
// first send completes the message.
send_all_awaitable stream_socket::send_all(std::span<const std::byte> buf) const noexcept {
    return send_all_awaitable(handle_.counter(), buf);
}

// The gathered form holds the stream's fd for its whole run (one count, not one per step):
// close() in another task then cancels the step in flight and stops the loop between steps, so
// the result is operation_canceled whichever point the transfer had reached, and the fd closes
// after it. It takes its turn in the fd's writer FIFO (detail/write_queue.hpp) for the whole
// transfer, so that concurrent calls go out whole and in issue order; alone, that is one flag.
// Gathered: one sendmsg per step over the unsent rest of the buffers (at most max_iov of them;
// the iovec array lives in this frame, so the kernel reads it only while it is valid).
task<transfer_result> stream_socket::send_all(std::span<const std::span<const std::byte>> bufs) const {
    std::size_t total = 0;
    for (const auto& b : bufs) total += b.size();
    if (total == 0) co_return transfer_result(0, {});  // at once, without waiting its turn
    auto in_use = handle_.hold();
    detail::write_turn turn;
    detail::write_queue* writes = in_use.writes();
    if (writes != nullptr) {
        const std::error_code waited = co_await detail::write_turn_awaiter(*writes, turn);
        if (waited) co_return transfer_result(0, waited);
    }
    constexpr std::size_t max_iov = 64;
    std::array<iovec, max_iov> iov{};
    std::size_t done = 0;
    std::size_t index = 0;   // the first buffer not completely sent
    std::size_t offset = 0;  // bytes of bufs[index] already sent
    while (done < total) {
        if (in_use.closing()) {
            co_return transfer_result(done, in_use.fd() < 0 ? make_error_code(std::errc::bad_file_descriptor)
                                                            : make_error_code(std::errc::operation_canceled));
        }
        std::size_t count = 0;
        for (std::size_t i = index; i < bufs.size() && count < max_iov; ++i) {
            const std::size_t skip = i == index ? offset : 0;
            if (bufs[i].size() == skip) continue;  // empty buffers take no iovec
            iov[count++] = iovec{const_cast<std::byte*>(bufs[i].data()) + skip, bufs[i].size() - skip};
        }
        msghdr msg{};
        msg.msg_iov = iov.data();
        msg.msg_iovlen = count;
        auto sent = co_await coil::sendmsg(in_use.fd(), msg);
        if (!sent) co_return transfer_result(done, sent.error());
        done += *sent;
        for (std::size_t left = *sent; index < bufs.size();) {
            const std::size_t rest = bufs[index].size() - offset;
            if (left < rest) {
                offset += left;
                break;
            }
            left -= rest;
            ++index;
            offset = 0;
        }
    }
    co_return transfer_result(done, {});
}

task<transfer_result> stream_socket::recv_exact(std::span<std::byte> buf) const {
    auto in_use = handle_.hold();
    std::size_t done = 0;
    while (done < buf.size()) {
        if (in_use.closing()) {
            co_return transfer_result(done, in_use.fd() < 0 ? make_error_code(std::errc::bad_file_descriptor)
                                                            : make_error_code(std::errc::operation_canceled));
        }
        auto got = co_await coil::recv(in_use.fd(), buf.subspan(done));
        if (!got) co_return transfer_result(done, got.error());
        done += *got;
    }
    co_return transfer_result(done, {});
}

result<void> stream_socket::shutdown(shutdown_how how) const noexcept {
    if (::shutdown(handle_.fd(), static_cast<int>(how)) != 0) return errno_code(errno);
    return {};
}

}  // namespace coil
