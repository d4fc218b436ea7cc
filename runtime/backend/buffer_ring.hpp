#pragma once
// The io_uring provided buffer ring that feeds the loop's receive pool to the kernel: multishot
// receives (op_code::recv_multishot) pick their buffers from it, and each buffer the application
// drops is added back (buffer_recycler::recycle).
//
// Registered by hand (io_uring_register_buf_ring with our own mapping): liburing 2.3, Debian
// 12's, lacks io_uring_setup_buf_ring. Needs Linux 5.19+; create() says why not otherwise.
// Lifetime: owned by the uring backend, destroyed before its ring closes, after every multishot
// receive has delivered its last completion (the loop drains them first). On destruction it
// unregisters and detaches from the pool, whose memory outlives it (buffer_pool is ref-counted).
// Threading: the loop's thread only.

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <string>

#include "coil/runtime/detail/buffer_pool.hpp"

namespace coil::detail {

class buffer_ring final : public buffer_recycler {
public:
    /// Null, with `why` filled, if the kernel refuses the ring (older than 5.19, out of memory).
    static std::unique_ptr<buffer_ring> create(io_uring& ring, buffer_pool& pool,
                                               std::uint16_t group, std::string& why) noexcept;
    buffer_ring(io_uring& ring, buffer_pool& pool, io_uring_buf_ring* entries,
                std::uint32_t entry_count, std::uint16_t group) noexcept;
    ~buffer_ring();
    buffer_ring(const buffer_ring&) = delete;
    buffer_ring& operator=(const buffer_ring&) = delete;

    void recycle(std::uint16_t id) noexcept override;
    [[nodiscard]] std::uint16_t group() const noexcept { return group_; }
    [[nodiscard]] std::uint32_t entries() const noexcept { return entry_count_; }

private:
    io_uring& ring_;
    buffer_pool& pool_;
    io_uring_buf_ring* entries_;
    std::uint32_t entry_count_;
    int mask_;
    std::uint16_t group_;
};

}  // namespace coil::detail
