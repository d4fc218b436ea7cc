#pragma once
// coil::transfer_result: the outcome of a composed transfer (tcp_stream::send_all, recv_exact):
// how many bytes went through, and the error that stopped it (none on success).
//
// It lives in the runtime layer, not in net/, so that combinators can see through it:
// with_timeout / with_deadline pass it on with its count, turning an operation_canceled caused by
// the deadline into coil::errc::timed_out (with_timeout.hpp), as they do for result<T>.

#include <cstddef>
#include <system_error>

namespace coil {

/// What send_all / recv_exact did: the bytes that went through, and the error that stopped the
/// transfer (none on success, when transferred() is the whole buffer). Tests like a result:
/// `if (!r) ... r.error()`. On error the first transferred() bytes of the buffer were sent
/// (received), the rest were not.
class transfer_result {
public:
    transfer_result() noexcept = default;
    transfer_result(std::size_t transferred, std::error_code error) noexcept
        : transferred_(transferred), error_(error) {}

    [[nodiscard]] bool has_value() const noexcept { return !error_; }
    explicit operator bool() const noexcept { return has_value(); }
    [[nodiscard]] std::error_code error() const noexcept { return error_; }
    [[nodiscard]] std::size_t transferred() const noexcept { return transferred_; }

private:
    std::size_t transferred_ = 0;
    std::error_code error_;
};

}  // namespace coil
