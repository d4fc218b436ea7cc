#include "coil/runtime/backend/buffer_ring.hpp"

#include <sys/mman.h>

#include <cstring>
#include <new>

namespace coil::detail {
namespace {

std::uint32_t round_up_to_power_of_two(std::uint32_t n) noexcept {
    std::uint32_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

std::size_t mapping_bytes(std::uint32_t entries) noexcept { return entries * sizeof(io_uring_buf); }

}  // namespace

std::unique_ptr<buffer_ring> buffer_ring::create(io_uring& ring, buffer_pool& pool,
                                                 std::uint16_t group, std::string& why) noexcept {
    // The kernel wants a power-of-two entry count (up to 2^15) in page-aligned memory; the ring
    // never holds more than the pool's buffers, so extra entries just stay unused.
    const std::uint32_t entries = round_up_to_power_of_two(pool.count());
    void* memory = ::mmap(nullptr, mapping_bytes(entries), PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
        why = std::string("mmap for the buffer ring failed: ") + std::strerror(errno);
        return nullptr;
    }
    auto* br = static_cast<io_uring_buf_ring*>(memory);
    io_uring_buf_ring_init(br);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(memory);
    reg.ring_entries = entries;
    reg.bgid = group;
    if (const int r = io_uring_register_buf_ring(&ring, &reg, 0); r < 0) {
        ::munmap(memory, mapping_bytes(entries));
        why = std::string("io_uring_register_buf_ring failed: ") + std::strerror(-r);
        return nullptr;
    }
    auto made = std::unique_ptr<buffer_ring>(new (std::nothrow) buffer_ring(ring, pool, br, entries, group));
    if (made == nullptr) {
        io_uring_unregister_buf_ring(&ring, group);
        ::munmap(memory, mapping_bytes(entries));
        why = "out of memory";
        return nullptr;
    }
    pool.attach(*made);  // hands every buffer to the kernel
    return made;
}

buffer_ring::buffer_ring(io_uring& ring, buffer_pool& pool, io_uring_buf_ring* entries,
                         std::uint32_t entry_count, std::uint16_t group) noexcept
    : ring_(ring), pool_(pool), entries_(entries), entry_count_(entry_count),
      mask_(io_uring_buf_ring_mask(entry_count)), group_(group) {}

buffer_ring::~buffer_ring() {
    // No receive can pick a buffer any more (the loop drained them); buffers still out come back
    // to the pool's count only.
    pool_.detach();
    io_uring_unregister_buf_ring(&ring_, group_);
    ::munmap(entries_, mapping_bytes(entry_count_));
}

void buffer_ring::recycle(std::uint16_t id) noexcept {
    // KERNEL-OWNS: the pool's memory outlives the ring (the pool is freed only after the loop,
    // hence this ring, is gone and every buffer has come back).
    io_uring_buf_ring_add(entries_, pool_.data(id), pool_.buffer_size(), id, mask_, 0);
    io_uring_buf_ring_advance(entries_, 1);
}

}  // namespace coil::detail
