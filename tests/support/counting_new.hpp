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

// GCC 12 at -O2 (the release build) inlines these into callers and then warns that free() is
// called on memory from operator new (-Wmismatched-new-delete), not seeing that this operator
// new is malloc: a false positive for a replaced pair, an error under -Werror.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t size) {
    ++coil::testing::allocations;
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
