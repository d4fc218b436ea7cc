#pragma once
// The awaitable part that every sync primitive's wait shares (event::wait, mutex::lock,
// semaphore::acquire, channel::send/receive, broadcast::receiver::receive): the cancel check
// first, the inline completion or the park (runtime/sync/detail/waiter.hpp), and the cleanup of a
// frame destroyed while parked. What differs stays in the derived awaitable (CRTP), which gives:
//
//     std::mutex& sync_mutex() noexcept;          // the primitive's mutex
//     detail::waiter_list& waiters() noexcept;    // where it parks
//     detail::attempt try_take_locked();          // with sync_mutex() held: complete now or park
//
// and its own await_resume (which starts with `if (this->ended_by_cancel()) ...`). A derived
// awaitable whose grant must be given back when its frame dies parked (a lock, a permit, a
// value), or whose parked waiter points into its own members (a channel sender's value), calls
// abandon_parked(give_back) from its own destructor, before those members go; the base's
// destructor covers the others (their grant touches nothing but the waiter, and is news only).

#include <cassert>
#include <coroutine>
#include <mutex>

#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/sync/detail/waiter.hpp"
#include "coil/runtime/task.hpp"

namespace coil::detail {

/// What a wait can do at once, decided under the primitive's mutex.
enum class attempt : unsigned char {
    park,     ///< nothing to take: park until granted or cancelled
    taken,    ///< took its resource: complete now (or yield once if the inline budget is spent)
    refused,  ///< completes now with no resource (the derived awaitable noted why)
};

template <class Derived, class Waiter = sync_waiter>
class sync_awaitable {
public:
    sync_awaitable() noexcept = default;
    // Movable only before it is awaited (with_timeout and the combinators take it by value).
    sync_awaitable([[maybe_unused]] sync_awaitable&& other) noexcept {
        assert(!other.waiter_.engaged);
    }
    sync_awaitable(const sync_awaitable&) = delete;
    sync_awaitable& operator=(const sync_awaitable&) = delete;
    ~sync_awaitable() {
        abandon_parked([] {});
    }

    bool await_ready() const noexcept { return false; }

    template <class P>
    bool await_suspend(std::coroutine_handle<P> awaiting) {
        cancel_state* cancel = cancel_state_of(awaiting);
        if (cancel && cancel->requested()) {
            cancelled_ = true;
            return false;
        }
        event_loop& loop = event_loop::current_or_throw();
        Derived& self = static_cast<Derived&>(*this);
        std::mutex& guard = self.sync_mutex();
        std::unique_lock lock(guard);
        switch (self.try_take_locked()) {
        case attempt::taken:
            if (loop.take_inline_budget()) return false;
            grant_self_later(waiter_, guard, loop, awaiting);
            return true;
        case attempt::refused:
            return false;
        case attempt::park:
            break;
        }
        park(waiter_, lock, self.waiters(), loop, awaiting, cancel);
        return true;
    }

protected:
    /// await_resume's start: true if the wait ended by cancellation (the token fired before
    /// await_suspend, or the cancel callback unlinked the parked waiter).
    bool ended_by_cancel() noexcept {
        if (cancelled_) return true;
        return finish(waiter_) == sync_waiter::state::cancelled;
    }

    /// For a frame destroyed while parked: unlinks the waiter and, if it had been granted and
    /// never resumed, calls `give_back()` with the primitive's mutex held. No-op if not parked.
    template <class GiveBack>
    void abandon_parked(GiveBack give_back) noexcept {
        if (!waiter_.engaged) return;
        std::unique_lock<std::mutex> lock;
        if (abandon(waiter_, lock)) give_back();
    }

    Waiter waiter_;

private:
    bool cancelled_ = false;
};

}  // namespace coil::detail
