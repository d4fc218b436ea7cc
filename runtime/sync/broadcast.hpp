#pragma once
// coil::broadcast<T>: fan-out. Every value sent reaches every receiver subscribed at the time,
// with a bounded buffer and a lagging policy like tokio::sync::broadcast's.
//
//     coil::broadcast<std::string> room(256);          // keeps the last 256 values
//     auto inbox = room.subscribe();                    // sees values sent from now on
//     room.send("hi");                                  // never waits
//     auto line = co_await inbox.receive();             // result<std::string>
//
// Buffer: one ring of the last `capacity` (>= 1; 0 throws std::invalid_argument) values shared by
// all receivers; each receiver is a cursor into it, so a send costs O(1) whatever the number of
// receivers and memory is bounded by `capacity` values, however slow a receiver is.
// Lagging policy: a sender never waits for slow receivers. A receiver that fell more than
// `capacity` values behind has lost the overwritten ones: its next receive yields
// coil::errc::lagged once (lagged_count() says how many it skipped) and moves the cursor to the
// oldest value kept, which the receive after yields. A service that must not skip (a chat that
// drops slow clients, say) treats lagged as "disconnect this receiver".
// send(v): result<void>; coil::errc::closed after close() (the value is dropped). Values are
// copied to each receiver (T must be copyable), under the broadcast's mutex.
// receive(): result<T>. The next value; parks while there is none. After close() a receiver still
// gets the values it had not read (that are kept), then coil::errc::closed.
// std::errc::operation_canceled if the task's cancel token fired first (checked first); a
// cancelled receive takes nothing, and the cursor stays. try_receive(): the same without waiting;
// std::errc::operation_would_block when there is nothing new and the broadcast is open.
// Ordering: every receiver sees the values in the order they were sent (sends from several
// threads are ordered by the broadcast's mutex).
// Threading: send, close and subscribe may be called from any thread; each receiver is used by
// one task at a time (one receive in flight per receiver), on any loop; a parked receive resumes
// on its own loop's thread (see runtime/sync/detail/waiter.hpp). A parked task holds an
// event_loop::external_work on its loop (a wait nothing ends hangs rather than being reported as
// a deadlock; on a paused-clock loop timers do not auto-advance meanwhile).
// Lifetime: the broadcast must outlive its receivers and every wait (asserted in debug builds for
// waits). A receiver needs no unsubscribing: destroying it is enough. A waiting task may be
// destroyed at any time.

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "coil/runtime/errc.hpp"
#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/sync/detail/sync_awaitable.hpp"
#include "coil/runtime/sync/detail/waiter.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

template <class T>
class broadcast {
public:
    explicit broadcast(std::size_t capacity) : capacity_(capacity) {
        if (capacity == 0) throw std::invalid_argument("coil::broadcast: capacity must be at least 1");
    }
    broadcast(const broadcast&) = delete;
    broadcast& operator=(const broadcast&) = delete;
    ~broadcast() { assert(waiters_.empty() && "coil::broadcast destroyed while tasks wait on it"); }

    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

    /// Appends `value` for every receiver (dropping the oldest kept value if the buffer is full)
    /// and wakes the parked receivers. Never waits. coil::errc::closed after close().
    result<void> send(T value) {
        std::lock_guard lock(mutex_);
        if (closed_) return errc::closed;
        values_.push_back(std::move(value));
        if (values_.size() > capacity_) {
            values_.pop_front();
            ++first_seq_;
        }
        while (detail::grant_first(waiters_) != nullptr) {
        }
        return {};
    }

    /// Refuses later sends; receivers drain what they had not read, then get coil::errc::closed.
    void close() noexcept {
        std::lock_guard lock(mutex_);
        closed_ = true;
        while (detail::grant_first(waiters_) != nullptr) {
        }
    }

    class receiver;
    /// A receiver that sees every value sent after this call (see "Lagging policy").
    receiver subscribe() {
        std::lock_guard lock(mutex_);
        return receiver(*this, end_seq_locked());
    }

    class receiver {
    public:
        receiver(receiver&&) noexcept = default;
        receiver& operator=(receiver&&) noexcept = default;

        /// How many values the last coil::errc::lagged skipped.
        [[nodiscard]] std::uint64_t lagged_count() const noexcept { return lagged_; }

        result<T> try_receive() {
            std::lock_guard lock(owner_->mutex_);
            if (!owner_->available_locked(next_)) return std::errc::operation_would_block;
            return owner_->take_locked(*this);
        }

        class [[nodiscard]] receive_awaitable
            : public detail::sync_awaitable<receive_awaitable> {
        public:
            explicit receive_awaitable(receiver& r) noexcept : receiver_(r) {}
            receive_awaitable(receive_awaitable&&) noexcept = default;
            // No destructor of its own: a wake here is news only, nothing to give back.

            // Woken (or ready at once): there is a value, a lag or the close to report, since
            // only this receive moves this receiver's cursor.
            result<T> await_resume() {
                if (this->ended_by_cancel()) return std::errc::operation_canceled;
                broadcast& b = *receiver_.owner_;
                std::lock_guard lock(b.mutex_);
                return b.take_locked(receiver_);
            }

        private:
            friend detail::sync_awaitable<receive_awaitable>;
            std::mutex& sync_mutex() noexcept { return receiver_.owner_->mutex_; }
            detail::waiter_list& waiters() noexcept { return receiver_.owner_->waiters_; }
            detail::attempt try_take_locked() const noexcept {
                return receiver_.owner_->available_locked(receiver_.next_) ? detail::attempt::taken
                                                                           : detail::attempt::park;
            }

            receiver& receiver_;
        };

        /// The next value (see the top of this file).
        receive_awaitable receive() noexcept { return receive_awaitable(*this); }

    private:
        friend class broadcast;
        receiver(broadcast& owner, std::uint64_t next) noexcept : owner_(&owner), next_(next) {}
        broadcast* owner_;
        std::uint64_t next_;  // sequence number of the next value to read (under owner_->mutex_)
        std::uint64_t lagged_ = 0;
    };

private:
    [[nodiscard]] std::uint64_t end_seq_locked() const noexcept { return first_seq_ + values_.size(); }
    [[nodiscard]] bool available_locked(std::uint64_t next) const noexcept {
        return next < end_seq_locked() || closed_;
    }
    // What a receive reports now; only after available_locked() said yes. Mutex held.
    result<T> take_locked(receiver& r) {
        if (r.next_ < first_seq_) {
            r.lagged_ = first_seq_ - r.next_;
            r.next_ = first_seq_;
            return errc::lagged;
        }
        if (r.next_ < end_seq_locked()) {
            result<T> out(values_[static_cast<std::size_t>(r.next_ - first_seq_)]);
            ++r.next_;
            return out;
        }
        assert(closed_);
        return errc::closed;
    }

    mutable std::mutex mutex_;
    std::deque<T> values_;
    std::uint64_t first_seq_ = 0;  // sequence number of values_.front()
    detail::waiter_list waiters_;
    std::size_t capacity_;
    bool closed_ = false;
};

}  // namespace coil
