#pragma once
// coil::pooled_buffer: received bytes in a buffer that belongs to the event loop's receive pool,
// returned to the pool when the pooled_buffer is dropped (RAII).
//
//     auto buf = co_await stream.recv_pooled();         // result<pooled_buffer>
//     if (!buf) co_return;                               // errc::eof, or the OS error
//     co_await stream.send_all(buf->bytes());            // the received bytes, buf->size() of them
//
// Contents: bytes() is exactly the data one receive returned (1 byte up to the pool's buffer
// size: loop_options::recv_buffer_size, or where that is 0, the default, the backend's: 4 KiB on
// io_uring, 16 KiB on epoll); the caller may read and modify it.
// Lifetime: move-only; the buffer goes back to its pool when the pooled_buffer is destroyed,
// reset() or assigned over. Keep it as long as you need the bytes, but not much longer: while it
// is held, the pool has one buffer less for every connection of the loop (see docs/lifetimes.md,
// "Pooled receive buffers"). Dropping it late is safe: after its stream closed, and after its
// event loop was destroyed (the pool's memory stays until its last buffer has come back).
// Threading: drop it on the thread of the loop it came from (after that loop is gone: on any one
// thread at a time). An empty (default-constructed or moved-from) pooled_buffer holds nothing.

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "coil/runtime/detail/buffer_pool.hpp"

namespace coil {

class pooled_buffer {
public:
    pooled_buffer() noexcept = default;
    /// Runtime-internal: takes one buffer of `pool` holding `size` received bytes at `data`.
    pooled_buffer(detail::buffer_pool* pool, std::byte* data, std::uint32_t size,
                  std::uint16_t id) noexcept
        : pool_(pool), data_(data), size_(size), id_(id) {}
    pooled_buffer(pooled_buffer&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)),
          data_(std::exchange(other.data_, nullptr)),
          size_(std::exchange(other.size_, 0)),
          id_(other.id_) {}
    pooled_buffer& operator=(pooled_buffer&& other) noexcept {
        if (this != &other) {
            reset();
            pool_ = std::exchange(other.pool_, nullptr);
            data_ = std::exchange(other.data_, nullptr);
            size_ = std::exchange(other.size_, 0);
            id_ = other.id_;
        }
        return *this;
    }
    pooled_buffer(const pooled_buffer&) = delete;
    pooled_buffer& operator=(const pooled_buffer&) = delete;
    ~pooled_buffer() { reset(); }

    /// The received bytes.
    [[nodiscard]] std::span<std::byte> bytes() const noexcept { return {data_, size_}; }
    [[nodiscard]] std::byte* data() const noexcept { return data_; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

    /// Returns the buffer to its pool now; the pooled_buffer is then empty.
    void reset() noexcept {
        if (pool_ == nullptr) return;
        detail::buffer_pool* pool = std::exchange(pool_, nullptr);
        pool->give_back(id_, std::exchange(data_, nullptr));
        size_ = 0;
    }

private:
    detail::buffer_pool* pool_ = nullptr;
    std::byte* data_ = nullptr;
    std::uint32_t size_ = 0;
    std::uint16_t id_ = detail::buffer_pool::no_buffer;
};

}  // namespace coil
