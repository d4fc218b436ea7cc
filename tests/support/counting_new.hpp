#pragma once
// A counting replacement of the global operator new/delete for the allocation tests: include it in
// exactly one translation unit of a test program (it defines the replaceable functions). The
// count is per thread, so another thread's allocations do not disturb a test.
#include <cstddef>
#include <cstdlib>
#include <new>

namespace coil::testing {
inline thread_local long allocations = 0;
}  // namespace coil::testing

void* operator new(std::size_t size) {
    ++coil::testing::allocations;
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
