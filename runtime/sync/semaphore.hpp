#pragma once
// coil::semaphore: a counting semaphore for coroutines (bounds how many tasks do something at once).
//
//     coil::semaphore slots(8);                   // 8 permits
//     auto permit = co_await slots.acquire();     // result<coil::semaphore::permit>
//     if (!permit) co_return;                     // operation_canceled
//     ...                                         // the permit returns when `permit` is destroyed
//
// Result: acquire() yields a permit (one unit; released when the permit is destroyed or
// release()d), or std::errc::operation_canceled if the task's cancel token fired before a permit
// was handed to it (checked first). A waiter handed a permit keeps it even if it is cancelled
// before it runs. release(n) also adds permits that no acquire took (the count may grow past its
// initial value: that is how permits are added later), up to SIZE_MAX free permits: a release
// past that saturates there (it would otherwise wrap the count round to a few or none).
// Fairness: FIFO. A released permit goes straight to the longest-waiting task; a permit is never
// free while tasks wait, so a newcomer cannot overtake them. try_acquire() takes a free permit only.
// Threading: every member may be called from any thread; a waiter resumes on its own loop's thread
// (directly from a release on that thread, through event_loop::post from any other). State is
// guarded by a std::mutex (see runtime/sync/detail/waiter.hpp). A parked waiter holds an
// event_loop::external_work on its loop (a wait nothing ends hangs rather than being reported as
// a deadlock; on a paused-clock loop timers do not auto-advance meanwhile).
// Lifetime: the semaphore must outlive every permit and every wait on it (asserted in debug
// builds). A waiting task may be destroyed at any time: its waiter is unlinked, and a permit
// already handed to it passes on to the next waiter (it is never lost).

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <limits>
#include <mutex>
#include <optional>
#include <utility>

#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/sync/detail/sync_awaitable.hpp"
#include "coil/runtime/sync/detail/waiter.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

class semaphore {
public:
    explicit semaphore(std::size_t permits) noexcept : available_(permits) {}
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;
    ~semaphore() { assert(waiters_.empty() && "coil::semaphore destroyed while tasks wait on it"); }

    /// One permit, returned to the semaphore when destroyed (movable; an empty permit owns none).
    class [[nodiscard]] permit {
    public:
        permit() noexcept = default;
        permit(permit&& other) noexcept : sem_(std::exchange(other.sem_, nullptr)) {}
        permit& operator=(permit&& other) noexcept {
            if (this != &other) {
                release();
                sem_ = std::exchange(other.sem_, nullptr);
            }
            return *this;
        }
        ~permit() { release(); }

        [[nodiscard]] bool owns_permit() const noexcept { return sem_ != nullptr; }
        explicit operator bool() const noexcept { return owns_permit(); }
        /// Returns the permit early; the object is then empty.
        void release() noexcept {
            if (sem_ != nullptr) std::exchange(sem_, nullptr)->release(1);
        }
        /// Keeps the permit taken for good (the object is then empty); release(1) returns it.
        void forget() noexcept { sem_ = nullptr; }

    private:
        friend class semaphore;
        explicit permit(semaphore& s) noexcept : sem_(&s) {}
        semaphore* sem_ = nullptr;
    };

    /// Takes a free permit, or an empty optional if none is free. Any thread; never waits.
    [[nodiscard]] std::optional<permit> try_acquire() noexcept {
        std::lock_guard lock(mutex_);
        if (available_ == 0) return std::nullopt;
        --available_;
        return permit(*this);
    }

    /// Adds `n` permits: each goes to the longest-waiting task, or to the free count. Any thread.
    void release(std::size_t n = 1) noexcept {
        std::lock_guard lock(mutex_);
        release_locked(n);
    }

    /// Free permits now (a snapshot; 0 while tasks wait).
    [[nodiscard]] std::size_t available() const noexcept {
        std::lock_guard lock(mutex_);
        return available_;
    }

    class [[nodiscard]] acquire_awaitable
        : public detail::sync_awaitable<acquire_awaitable> {
    public:
        explicit acquire_awaitable(semaphore& s) noexcept : sem_(s) {}
        acquire_awaitable(acquire_awaitable&&) noexcept = default;
        ~acquire_awaitable() {
            abandon_parked([this] { sem_.release_locked(1); });  // the permit passes on
        }

        result<permit> await_resume() noexcept {
            if (ended_by_cancel()) return std::errc::operation_canceled;
            return permit(sem_);
        }

    private:
        friend detail::sync_awaitable<acquire_awaitable>;
        std::mutex& sync_mutex() noexcept { return sem_.mutex_; }
        detail::waiter_list& waiters() noexcept { return sem_.waiters_; }
        detail::attempt try_take_locked() noexcept {
            if (sem_.available_ == 0) return detail::attempt::park;
            --sem_.available_;
            return detail::attempt::taken;
        }

        semaphore& sem_;
    };

    /// Waits for a permit (see the top of this file).
    acquire_awaitable acquire() noexcept { return acquire_awaitable(*this); }

private:
    // The caller holds mutex_.
    void release_locked(std::size_t n) noexcept {
        for (; n > 0; --n) {
            if (detail::grant_first(waiters_) == nullptr) {
                constexpr std::size_t most = std::numeric_limits<std::size_t>::max();
                available_ = n > most - available_ ? most : available_ + n;
                return;
            }
        }
    }

    mutable std::mutex mutex_;
    detail::waiter_list waiters_;
    std::size_t available_;
};

}  // namespace coil
