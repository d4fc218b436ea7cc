#include "coil/runtime/switch_to.hpp"

#include <atomic>
#include <cstddef>
#include <mutex>
#include <unordered_map>

namespace coil::detail {

namespace {

struct away_entry {
    explicit away_entry(event_loop& loop) noexcept : home(&loop), guard(loop) {}
    event_loop* home;
    event_loop::external_work guard;  // keeps home's run() waiting for the frame
};

// Frames away from home. A process-wide map under a mutex: the hops of one coroutine run on
// different threads, so no thread-local or per-loop table can pair a departure with its return,
// and the switch_to awaitable itself lives only for one hop. A hop already costs a post (a lock,
// an allocation, an eventfd write), so one more lock per hop away from or back home is noise.
struct away_registry {
    std::mutex mutex;
    std::unordered_map<void*, away_entry> away;
    std::atomic<std::size_t> count{0};  // lets hops with nobody away skip the lock
};

away_registry& registry() {
    // Never destroyed: a loop thread may still hop while static destructors run at exit.
    static away_registry* const r = new away_registry;
    return *r;
}

}  // namespace

bool note_left_home(void* frame, event_loop& from) {
    away_registry& r = registry();
    std::lock_guard lock(r.mutex);
    // Away already: `from` is a loop the frame is visiting, its home is still the first one.
    const bool inserted = r.away.try_emplace(frame, from).second;
    if (inserted) r.count.fetch_add(1, std::memory_order_relaxed);
    return inserted;
}

void note_arrived(void* frame, event_loop& here) noexcept {
    away_registry& r = registry();
    // Relaxed: this frame's own departure happened before the post that resumed it here.
    if (r.count.load(std::memory_order_relaxed) == 0) return;
    std::lock_guard lock(r.mutex);
    auto it = r.away.find(frame);
    if (it == r.away.end() || it->second.home != &here) return;
    r.away.erase(it);  // releases the guard: home may report a deadlock again
    r.count.fetch_sub(1, std::memory_order_relaxed);
}

void forget_left_home(void* frame) noexcept {
    away_registry& r = registry();
    std::lock_guard lock(r.mutex);
    if (r.away.erase(frame) != 0) r.count.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace coil::detail
