#pragma once
// The loop-wide pool of receive buffers behind tcp_stream::recv_pooled (coil::pooled_buffer).
//
// One anonymous mapping of count x size bytes (pages become resident only once written), plus a
// few bytes of bookkeeping per buffer. Two modes:
// - free list (epoll, and io_uring without a provided buffer ring): take() hands out the most
//   recently returned buffer (LIFO: the same few buffers stay warm and resident); when the pool
//   is empty it allocates a buffer on the heap for that one receive (freed when given back), so a
//   receive never waits for a buffer.
// - provided buffer ring (io_uring): a recycler (runtime/backend/buffer_ring) owns the free
//   buffers; the kernel picks them, and give_back() hands each one back to it.
// Lifetime: reference-counted by its owner (the event loop) and by every buffer out of the pool.
// The loop lets go in its destructor (owner_gone); the memory stays mapped until the last buffer
// handed out has been given back, so a pooled_buffer dropped after its loop ended is safe.
// Threading: the loop's thread only (after the loop is gone: one thread at a time).

#include <cstddef>
#include <cstdint>
#include <vector>

namespace coil::detail {

/// The io_uring provided buffer ring, seen from the pool (the pool sees only this interface, never the ring library).
class buffer_recycler {
public:
    /// Makes buffer `id` available to the kernel again.
    virtual void recycle(std::uint16_t id) noexcept = 0;

protected:
    ~buffer_recycler() = default;
};

class buffer_pool {
public:
    /// The id of a buffer allocated on the heap because the pool was empty (free-list mode).
    static constexpr std::uint16_t heap_id = 0xfffe;
    /// No buffer (end of a per-connection queue, a result without data).
    static constexpr std::uint16_t no_buffer = 0xffff;
    /// The most buffers a pool holds (the kernel's limit for a provided buffer ring, 2^15).
    static constexpr std::uint32_t max_count = 32768;

    /// Null if the memory cannot be mapped. size >= 1, 1 <= count <= max_count (checked by the
    /// loop's options).
    static buffer_pool* create(std::uint32_t size, std::uint32_t count) noexcept;

    buffer_pool(const buffer_pool&) = delete;
    buffer_pool& operator=(const buffer_pool&) = delete;

    [[nodiscard]] std::uint32_t buffer_size() const noexcept { return size_; }
    [[nodiscard]] std::uint32_t count() const noexcept { return count_; }
    [[nodiscard]] std::byte* data(std::uint16_t id) const noexcept {
        return memory_ + static_cast<std::size_t>(id) * size_;
    }
    /// Buffers out of the pool: held by a pooled_buffer, queued for a connection, or on loan to
    /// a receive in progress (free-list mode). Heap buffers count too. 0 on a quiet loop.
    [[nodiscard]] std::size_t in_use() const noexcept { return in_use_; }

    struct taken {
        std::byte* data = nullptr;  // null: out of memory
        std::uint16_t id = no_buffer;
    };
    /// A buffer for one receive: free-list mode, the most recently returned one, or a heap one
    /// when the pool is empty; ring mode (the ring ran dry), always a heap one.
    taken take() noexcept;
    /// Ring mode: the kernel filled buffer `id` (a completion said so); it is now in use.
    void note_received(std::uint16_t id) noexcept;
    /// A buffer comes back (from take() or note_received). May free the pool (owner gone, last).
    void give_back(std::uint16_t id, std::byte* data) noexcept;

    // Per-buffer links, for the queue of a connection's received buffers (ring mode).
    [[nodiscard]] std::uint16_t& next_of(std::uint16_t id) noexcept { return next_[id]; }
    [[nodiscard]] std::uint32_t& length_of(std::uint16_t id) noexcept { return length_[id]; }

    /// Ring mode: from now on free buffers belong to `r` (all of them are handed to it first).
    void attach(buffer_recycler& r) noexcept;
    /// The ring is going away (its loop's backend is destroyed).
    void detach() noexcept { recycler_ = nullptr; }
    [[nodiscard]] bool ring_mode() const noexcept { return recycler_ != nullptr; }

    /// The owner (the loop) lets go: the pool is freed now if no buffer is out, else when the
    /// last one comes back.
    void owner_gone() noexcept;

private:
    buffer_pool(std::byte* memory, std::uint32_t size, std::uint32_t count);
    ~buffer_pool();

    std::byte* memory_;
    std::uint32_t size_;
    std::uint32_t count_;
    std::size_t in_use_ = 0;
    bool owner_alive_ = true;
    buffer_recycler* recycler_ = nullptr;
    std::vector<std::uint16_t> free_;  // free-list mode; reserved for all, never reallocates
    std::vector<std::uint16_t> next_;
    std::vector<std::uint32_t> length_;
};

}  // namespace coil::detail
