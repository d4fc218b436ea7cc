#pragma once
// coil::mutex: a fair (FIFO) mutual-exclusion lock for coroutines; waiting suspends the task, not
// the thread.
//
//     coil::mutex m;
//     auto held = co_await m.lock();          // result<coil::mutex::guard>
//     if (!held) co_return;                   // operation_canceled
//     ...                                     // exclusive until `held` is destroyed or unlocked
//
// Result: lock() yields a guard that owns the lock (unlocking when destroyed), or
// std::errc::operation_canceled if the task's cancel token fired before the lock was handed to it
// (checked first: a cancelled task does not take even a free lock). A waiter handed the lock
// keeps it even if it is cancelled before it runs (cancellation is a request; the hand-over won).
// Fairness: strictly FIFO. unlock() hands the lock straight to the longest-waiting task (the lock
// never looks free while tasks wait), so a task that unlocks and locks again queues behind the
// others. try_lock() takes the lock only if it is free (and so nobody waits).
// Threading: lock(), try_lock() and unlocking may happen on any thread and any loop; a waiter
// resumes on its own loop's thread (directly from an unlock on that thread, through
// event_loop::post from any other). State is guarded by a std::mutex (see
// runtime/sync/detail/waiter.hpp for the wake protocol and why not a spinlock). Not recursive:
// locking again from the task that holds the lock waits forever. A parked waiter holds an
// event_loop::external_work on its loop (a lock that is never released hangs rather than being
// reported as a deadlock; on a paused-clock loop timers do not auto-advance meanwhile).
// Lifetime: the mutex must outlive every guard and every wait on it (asserted in debug builds).
// A waiting task may be destroyed at any time: its waiter is unlinked, and if the lock had
// already been handed to it, the lock passes on to the next waiter (it is never lost).

#include <cassert>
#include <coroutine>
#include <mutex>
#include <optional>
#include <utility>

#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/sync/detail/sync_awaitable.hpp"
#include "coil/runtime/sync/detail/waiter.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

class mutex {
public:
    mutex() noexcept = default;
    mutex(const mutex&) = delete;
    mutex& operator=(const mutex&) = delete;
    ~mutex() {
        assert(waiters_.empty() && "coil::mutex destroyed while tasks wait on it");
        assert(!locked_ && "coil::mutex destroyed while locked");
    }

    /// Owns the lock while it lives (movable; an empty guard owns nothing).
    class [[nodiscard]] guard {
    public:
        guard() noexcept = default;
        guard(guard&& other) noexcept : mutex_(std::exchange(other.mutex_, nullptr)) {}
        guard& operator=(guard&& other) noexcept {
            if (this != &other) {
                unlock();
                mutex_ = std::exchange(other.mutex_, nullptr);
            }
            return *this;
        }
        ~guard() { unlock(); }

        [[nodiscard]] bool owns_lock() const noexcept { return mutex_ != nullptr; }
        explicit operator bool() const noexcept { return owns_lock(); }
        /// Releases the lock early (to the next waiter, if any); the guard is then empty.
        void unlock() noexcept {
            if (mutex_ != nullptr) std::exchange(mutex_, nullptr)->release();
        }

    private:
        friend class mutex;
        explicit guard(mutex& m) noexcept : mutex_(&m) {}
        mutex* mutex_ = nullptr;
    };

    /// Takes the lock if it is free; an empty optional if it is held. Any thread; never waits.
    [[nodiscard]] std::optional<guard> try_lock() noexcept {
        std::lock_guard lock(mutex_);
        if (locked_) return std::nullopt;
        locked_ = true;
        return guard(*this);
    }

    /// True while some task holds the lock (a snapshot: it may change at once on other threads).
    [[nodiscard]] bool is_locked() const noexcept {
        std::lock_guard lock(mutex_);
        return locked_;
    }

    class [[nodiscard]] lock_awaitable
        : public detail::sync_awaitable<lock_awaitable> {
    public:
        explicit lock_awaitable(mutex& m) noexcept : mutex_(m) {}
        lock_awaitable(lock_awaitable&&) noexcept = default;
        ~lock_awaitable() {
            abandon_parked([this] { mutex_.release_locked(); });  // the lock passes on
        }

        result<guard> await_resume() noexcept {
            if (ended_by_cancel()) return std::errc::operation_canceled;
            return guard(mutex_);
        }

    private:
        friend detail::sync_awaitable<lock_awaitable>;
        std::mutex& sync_mutex() noexcept { return mutex_.mutex_; }
        detail::waiter_list& waiters() noexcept { return mutex_.waiters_; }
        detail::attempt try_take_locked() noexcept {
            if (mutex_.locked_) return detail::attempt::park;
            mutex_.locked_ = true;
            return detail::attempt::taken;
        }

        mutex& mutex_;
    };

    /// Waits for the lock (see the top of this file).
    lock_awaitable lock() noexcept { return lock_awaitable(*this); }

private:
    void release() noexcept {
        std::lock_guard lock(mutex_);
        release_locked();
    }
    // Hands the lock to the first waiter, or frees it. The caller holds mutex_.
    void release_locked() noexcept {
        assert(locked_);
        if (detail::grant_first(waiters_) == nullptr) locked_ = false;
    }

    mutable std::mutex mutex_;
    detail::waiter_list waiters_;
    bool locked_ = false;
};

}  // namespace coil
