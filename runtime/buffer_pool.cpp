#include "coil/runtime/detail/buffer_pool.hpp"

#include <sys/mman.h>

#include <new>

namespace coil::detail {

buffer_pool* buffer_pool::create(std::uint32_t size, std::uint32_t count) noexcept {
    // An anonymous mapping, not new[]: its pages become resident only when first written, so a
    // pool whose buffers are rarely all in use at once costs only what is used (free-list mode
    // reuses the most recently returned buffer first).
    const std::size_t bytes = static_cast<std::size_t>(size) * count;
    void* memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) return nullptr;
    try {
        return new buffer_pool(static_cast<std::byte*>(memory), size, count);
    } catch (...) {
        ::munmap(memory, bytes);
        return nullptr;
    }
}

buffer_pool::buffer_pool(std::byte* memory, std::uint32_t size, std::uint32_t count)
    : memory_(memory), size_(size), count_(count), next_(count, no_buffer), length_(count, 0) {
    free_.reserve(count);
    // Lowest id on top: the first receives use the start of the mapping.
    for (std::uint32_t id = count; id-- > 0;) free_.push_back(static_cast<std::uint16_t>(id));
}

buffer_pool::~buffer_pool() { ::munmap(memory_, static_cast<std::size_t>(size_) * count_); }

buffer_pool::taken buffer_pool::take() noexcept {
    if (free_.empty()) {
        // Every pool buffer is out (held by the application, or in the kernel's ring): this
        // receive gets its own, rather than waiting for one to come back (that might never
        // happen while the application holds them) or losing data.
        auto* heap = new (std::nothrow) std::byte[size_];
        if (heap == nullptr) return {};
        ++in_use_;
        return {heap, heap_id};
    }
    const std::uint16_t id = free_.back();
    free_.pop_back();
    ++in_use_;
    return {data(id), id};
}

void buffer_pool::note_received(std::uint16_t id) noexcept {
    ++in_use_;
    next_[id] = no_buffer;
}

void buffer_pool::give_back(std::uint16_t id, std::byte* buffer) noexcept {
    --in_use_;
    if (id == heap_id) {
        delete[] buffer;
    } else if (!owner_alive_) {
        // The loop is gone: nobody takes buffers any more; only the count matters.
    } else if (recycler_ != nullptr) {
        recycler_->recycle(id);
    } else {
        free_.push_back(id);  // never reallocates: reserved for every buffer
    }
    if (!owner_alive_ && in_use_ == 0) delete this;
}

void buffer_pool::attach(buffer_recycler& r) noexcept {
    recycler_ = &r;
    // Every buffer not out goes to the ring (at attach time none is: the pool is new).
    while (!free_.empty()) {
        r.recycle(free_.back());
        free_.pop_back();
    }
}

void buffer_pool::owner_gone() noexcept {
    owner_alive_ = false;
    recycler_ = nullptr;
    if (in_use_ == 0) delete this;
}

}  // namespace coil::detail
