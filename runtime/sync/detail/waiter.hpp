#pragma once
// The parked task behind every sync primitive (event, mutex, semaphore, channel, broadcast).
//
// A sync_waiter lives in the awaiting coroutine's frame (inside the awaitable), so parking never
// allocates. The primitive keeps its waiters in an intrusive FIFO list guarded by the primitive's
// std::mutex; whoever holds that mutex may unlink a waiter and *grant* it (hand it the lock, a
// permit, a value, or news). A waiter that is granted has left the list for good: only its wake
// can resume it, and cancellation no longer touches it (cancellation is a request; the grant won).
//
// Threading: a waiter belongs to the loop of the task that parked it; it is resumed on that loop's
// thread only. A grant made on that same thread puts the waiter straight on the ready queue; a
// grant made on any other thread (another loop's, or one with no loop) posts the wake to the
// waiter's loop (event_loop::post). The post is made while the primitive's mutex is held: the
// waiter's frame (and, after it, its loop) cannot go away meanwhile, because destroying a parked
// waiter takes the same mutex, and so does a waiter resumed by a posted wake before it returns to
// its task (the posted function may run, and the task end its loop, while the notifier is still
// inside post). The posted function reaches the waiter through a wake_ticket that
// the waiter's destructor clears, so a frame destroyed between the grant and the posted wake is
// never touched. While parked, the waiter holds an event_loop::external_work on its loop: its
// wake may come from another thread, so the loop must not call the wait a deadlock.
//
// Why a std::mutex and not a spinlock: the critical sections are short but a wake from another
// thread makes a post (a lock and an eventfd write) inside them, and on a machine with fewer cores
// than loop threads a spinning thread burns the slice the lock holder needs. A futex-based mutex
// costs one uncontended atomic exchange, the same as a spinlock's fast path.
//
// Cancellation and destruction both run on the waiter's own thread. Cancel: under the mutex, a
// waiter still in the list leaves it and resumes with operation_canceled; a granted one is left
// alone (it resumes with what it was given). Destruction of a parked frame: under the mutex, a
// waiter still in the list leaves it; one that was granted but never resumed gives what it was
// handed back to the primitive (primitive-specific: the mutex or permit goes to the next waiter,
// a received value goes back to the front of the channel), so no grant is ever lost.

#include <cassert>
#include <coroutine>
#include <memory>
#include <mutex>
#include <optional>

#include "coil/runtime/cancel.hpp"
#include "coil/runtime/detail/ready_queue.hpp"
#include "coil/runtime/event_loop.hpp"

namespace coil::detail {

struct sync_waiter;

/// How a posted wake finds its waiter; cleared by the waiter's destructor (both on its thread).
struct wake_ticket {
    explicit wake_ticket(sync_waiter* w) noexcept : waiter(w) {}
    sync_waiter* waiter;
};

struct sync_waiter {
    enum class state : unsigned char {
        idle,       ///< not parked (never suspended, or resumed already)
        waiting,    ///< in the primitive's list
        granted,    ///< unlinked and handed its resource; its wake is queued or posted
        cancelled,  ///< unlinked by its cancel callback; scheduled on its loop
    };

    sync_waiter() noexcept = default;
    sync_waiter(const sync_waiter&) = delete;
    sync_waiter& operator=(const sync_waiter&) = delete;

    // The primitive's list (guarded by the primitive's mutex).
    sync_waiter* prev = nullptr;
    sync_waiter* next = nullptr;
    state st = state::idle;

    std::mutex* guard = nullptr;  // the primitive's mutex, for the cancel callback
    struct waiter_list* list = nullptr;
    event_loop* loop = nullptr;
    ready_node node;
    struct hook_type : cancel_link {
        sync_waiter* self = nullptr;
    } hook;
    std::shared_ptr<wake_ticket> ticket;  // set by a grant from another thread
    std::optional<event_loop::external_work> keep;
    /// Suspended on the primitive and not resumed yet. Owner's thread only (unlike `st`, which
    /// a grant from another thread writes under the primitive's mutex): the awaitable's
    /// destructor tests it without taking the mutex.
    bool engaged = false;
};

/// The primitive's FIFO of parked waiters. Guarded by the primitive's mutex.
struct waiter_list {
    sync_waiter* head = nullptr;
    sync_waiter* tail = nullptr;

    [[nodiscard]] bool empty() const noexcept { return head == nullptr; }

    void push_back(sync_waiter& w) noexcept {
        w.prev = tail;
        w.next = nullptr;
        if (tail) tail->next = &w; else head = &w;
        tail = &w;
    }
    void remove(sync_waiter& w) noexcept {
        if (w.prev) w.prev->next = w.next; else head = w.next;
        if (w.next) w.next->prev = w.prev; else tail = w.prev;
        w.prev = w.next = nullptr;
    }
    sync_waiter* pop_front() noexcept {
        sync_waiter* w = head;
        if (w) remove(*w);
        return w;
    }
};

/// Resumes a granted waiter on its own loop. Called with the primitive's mutex held, after the
/// waiter left the list and its resource was stored. See the top of this file.
inline void wake(sync_waiter& w) noexcept {
    if (event_loop::current() == w.loop) {
        w.loop->schedule(w.node);
        return;
    }
    w.ticket = std::make_shared<wake_ticket>(&w);
    // post allocates; running out of memory here cannot be reported to anyone (terminate).
    w.loop->post([ticket = w.ticket] {
        if (sync_waiter* target = ticket->waiter) target->loop->schedule(target->node);
    });
}

/// Unlinks the first waiter of `list` and grants it (mutex held). False if there was none.
inline sync_waiter* grant_first(waiter_list& list) noexcept {
    sync_waiter* w = list.pop_front();
    if (w == nullptr) return nullptr;
    w->st = sync_waiter::state::granted;
    wake(*w);
    return w;
}

inline void on_waiter_cancel(cancel_link& link) noexcept {
    sync_waiter& w = *static_cast<sync_waiter::hook_type&>(link).self;
    {
        std::lock_guard lock(*w.guard);
        if (w.st != sync_waiter::state::waiting) return;  // granted first: the grant stands
        w.list->remove(w);
        w.st = sync_waiter::state::cancelled;
    }
    w.loop->schedule(w.node);
}

/// Parks `w` at the back of `list` (the caller holds `lock` on the primitive's mutex, which it
/// releases here) and attaches the cancel hook.
inline void park(sync_waiter& w, std::unique_lock<std::mutex>& lock, waiter_list& list,
                 event_loop& loop, std::coroutine_handle<> handle, cancel_state* cancel) noexcept {
    w.guard = lock.mutex();
    w.list = &list;
    w.loop = &loop;
    w.node.handle = handle;
    w.keep.emplace(loop);
    w.engaged = true;
    w.st = sync_waiter::state::waiting;
    list.push_back(w);
    lock.unlock();
    // After the unlock: a cancel callback takes the mutex. Nothing on this thread can cancel in
    // between (the caller checked the token), and a grant from elsewhere meanwhile makes the
    // callback, if it ever runs, a no-op.
    if (cancel) {
        w.hook.self = &w;
        w.hook.on_cancel = &on_waiter_cancel;
        cancel->attach(w.hook);
    }
}

/// A completion without parking that used up the task's inline budget: the waiter holds its
/// resource as if granted and goes to the back of the ready queue (the caller holds the mutex).
inline void grant_self_later(sync_waiter& w, std::mutex& guard, event_loop& loop,
                             std::coroutine_handle<> handle) noexcept {
    w.guard = &guard;
    w.loop = &loop;
    w.node.handle = handle;
    w.engaged = true;
    w.st = sync_waiter::state::granted;
    loop.schedule(w.node);
}

/// await_resume's common part: stops following the token and returns how the wait ended.
inline sync_waiter::state finish(sync_waiter& w) noexcept {
    cancel_state::unlink(w.hook);
    if (w.ticket) {
        // Woken from another thread, which posted the wake while holding the primitive's mutex
        // and may still be inside event_loop::post (writing the loop's eventfd). Taking the mutex
        // waits for it to return, so that this task may now end its loop's run() and the loop
        // be destroyed without racing the post.
        std::lock_guard sync(*w.guard);
    }
    const sync_waiter::state how = w.st;
    w.st = sync_waiter::state::idle;
    w.engaged = false;
    w.ticket.reset();
    w.keep.reset();
    return how;
}

/// The destructor's common part for a frame destroyed while parked. Returns true if `w` had been
/// granted and never resumed: the caller, still holding `lock`, must give the grant back.
[[nodiscard]] inline bool abandon(sync_waiter& w, std::unique_lock<std::mutex>& lock) noexcept {
    cancel_state::unlink(w.hook);
    lock = std::unique_lock(*w.guard);
    bool give_back = false;
    if (w.st == sync_waiter::state::waiting) {
        w.list->remove(w);
    } else if (w.st == sync_waiter::state::granted) {
        give_back = true;
        if (w.ticket) w.ticket->waiter = nullptr;
    }
    w.st = sync_waiter::state::idle;
    w.engaged = false;
    w.node.unlink();
    return give_back;
}

}  // namespace coil::detail
