// The receive pool behind pooled_buffer (runtime/detail/buffer_pool.hpp), without a loop: the
// free list's order, heap buffers when it is empty, the in-use count, and memory that outlives
// its owner while buffers are out (ASan reports a use-after-free or a leak otherwise).

#include "coil/runtime/detail/buffer_pool.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "coil/runtime/pooled_buffer.hpp"

namespace {

using coil::detail::buffer_pool;

TEST(BufferPoolTest, HandsOutTheMostRecentlyReturnedBufferFirst) {
    buffer_pool* pool = buffer_pool::create(64, 4);
    ASSERT_NE(pool, nullptr);
    auto a = pool->take();
    auto b = pool->take();
    EXPECT_EQ(a.id, 0);
    EXPECT_EQ(b.id, 1);
    EXPECT_EQ(a.data, pool->data(0));
    EXPECT_EQ(pool->in_use(), 2u);
    pool->give_back(b.id, b.data);
    auto c = pool->take();
    EXPECT_EQ(c.id, 1);  // LIFO: the warm one again, not id 2
    pool->give_back(a.id, a.data);
    pool->give_back(c.id, c.data);
    EXPECT_EQ(pool->in_use(), 0u);
    pool->owner_gone();
}

TEST(BufferPoolTest, AnEmptyPoolLendsHeapBuffersAndCountsThem) {
    buffer_pool* pool = buffer_pool::create(32, 2);
    ASSERT_NE(pool, nullptr);
    std::vector<buffer_pool::taken> out;
    for (int i = 0; i < 5; ++i) out.push_back(pool->take());
    EXPECT_EQ(pool->in_use(), 5u);
    for (int i = 2; i < 5; ++i) {
        EXPECT_EQ(out[static_cast<std::size_t>(i)].id, buffer_pool::heap_id);
        std::memset(out[static_cast<std::size_t>(i)].data, 0x5a, 32);  // really 32 bytes
    }
    for (auto& t : out) pool->give_back(t.id, t.data);
    EXPECT_EQ(pool->in_use(), 0u);
    pool->owner_gone();
}

TEST(BufferPoolTest, MemoryOutlivesTheOwnerUntilTheLastBufferComesBack) {
    buffer_pool* pool = buffer_pool::create(16, 3);
    ASSERT_NE(pool, nullptr);
    auto t = pool->take();
    std::memcpy(t.data, "late", 4);
    coil::pooled_buffer held(pool, t.data, 4, t.id);
    pool->owner_gone();  // the loop is gone; one buffer is still out
    EXPECT_EQ(std::memcmp(held.data(), "late", 4), 0);
    EXPECT_EQ(held.size(), 4u);
    coil::pooled_buffer moved = std::move(held);
    EXPECT_TRUE(held.empty());
    moved.reset();  // the last one: the pool frees itself now
    EXPECT_TRUE(moved.empty());
}

}  // namespace
