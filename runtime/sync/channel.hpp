#pragma once
// coil::channel<T>: a multi-producer, multi-consumer FIFO queue between coroutines, bounded or
// unbounded, usable within one loop and across loops and threads.
//
//     coil::channel<std::string> lines(64);                 // bounded: at most 64 queued
//     coil::channel<job> jobs(coil::unbounded);             // unbounded
//     auto sent = co_await lines.send("hello");             // result<void>
//     auto line = co_await lines.receive();                 // result<std::string>
//     lines.close();                                        // no more sends; receivers drain
//
// send(v): result<void>. Empty once `v` is queued or handed to a waiting receiver. A bounded
// channel that is full parks the sender until a receive makes room (or close, or cancel).
// coil::errc::closed if the channel is closed (before the send, or while it waited): the value is
// dropped (destroyed with the awaitable). std::errc::operation_canceled if the task's cancel token
// fired before the value was queued (checked first): a cancelled sender never enqueues. A sender
// whose value was taken keeps that success even if it is cancelled before it runs.
// try_send(std::move(v)): the same without waiting; std::errc::operation_would_block when full.
// It moves from `v` only on success, so a refused value is still the caller's ("given back").
// receive(): result<T>. The oldest queued value; parks while the channel is empty. After close()
// it still yields every value queued before, then coil::errc::closed (for every later receive
// too). std::errc::operation_canceled if the token fired before a value was handed over (checked
// first): a cancelled receiver takes no value, which stays for the next receiver. A receiver
// handed a value keeps it even if it is cancelled before it runs. try_receive(): the same without
// waiting; operation_would_block when empty and open.
// Ordering: FIFO. Values from one sender arrive in the order it sent them; parked senders and
// parked receivers are served in the order they parked.
// Capacity: a bounded channel holds at most `capacity` values (>= 1; 0 throws
// std::invalid_argument: there is no rendezvous mode), except that a value handed to a receiver
// whose task is destroyed before it runs goes back to the front of the queue (or to the next
// waiting receiver), which may exceed the capacity by that value until it is received.
// Exceptions: an exception from T's move constructor (or from an allocation of the queue) leaves
// the channel as it was and propagates out of the send or receive that moved it: a receive that
// throws took no value, and a parked sender whose value could not be queued stays parked. Only a
// value handed to a receiver whose task is then destroyed before it runs has nobody to report to
// if moving it back throws: it is dropped and an error is logged (runtime/log.hpp).
// Threading: every member may be called from any thread (send/receive from a task on any loop);
// a parked task resumes on its own loop's thread (directly from an operation on that thread,
// through event_loop::post from any other). Values are moved under the channel's std::mutex, on
// the thread of whichever side completes the hand-over. See runtime/sync/detail/waiter.hpp for the
// wake protocol. A parked task holds an event_loop::external_work on its loop (a wait nothing
// ends hangs rather than being reported as a deadlock; on a paused-clock loop timers do not
// auto-advance meanwhile).
// Lifetime: the channel must outlive every wait on it (asserted in debug builds); queued values
// are destroyed with it. A waiting task may be destroyed at any time: its waiter is unlinked, and
// a value already handed to it is not lost (see Capacity).

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "coil/runtime/errc.hpp"
#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/log.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/sync/detail/sync_awaitable.hpp"
#include "coil/runtime/sync/detail/waiter.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

/// Tag for an unbounded channel: coil::channel<T> ch(coil::unbounded);
struct unbounded_t {
    explicit unbounded_t() = default;
};
inline constexpr unbounded_t unbounded{};

template <class T>
class channel {
public:
    /// A bounded channel of `capacity` (>= 1) values; throws std::invalid_argument for 0.
    explicit channel(std::size_t capacity) : capacity_(capacity) {
        if (capacity == 0) throw std::invalid_argument("coil::channel: capacity must be at least 1");
    }
    explicit channel(unbounded_t) noexcept : capacity_(std::numeric_limits<std::size_t>::max()) {}
    channel(const channel&) = delete;
    channel& operator=(const channel&) = delete;
    ~channel() {
        assert(senders_.empty() && receivers_.empty() && "coil::channel destroyed while tasks wait on it");
    }

    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] bool bounded() const noexcept {
        return capacity_ != std::numeric_limits<std::size_t>::max();
    }
    /// Values queued now (a snapshot).
    [[nodiscard]] std::size_t size() const {
        std::lock_guard lock(mutex_);
        return queue_.size();
    }
    [[nodiscard]] bool is_closed() const {
        std::lock_guard lock(mutex_);
        return closed_;
    }

    /// Refuses every later send and wakes the parked senders (coil::errc::closed, their values
    /// dropped) and receivers (the queue is empty when any park: coil::errc::closed). Queued
    /// values stay for receivers to drain. Idempotent. Any thread.
    void close() noexcept {
        std::lock_guard lock(mutex_);
        closed_ = true;
        while (detail::sync_waiter* w = receivers_.head) {
            static_cast<receive_waiter*>(w)->closed = true;
            detail::grant_first(receivers_);
        }
        while (detail::sync_waiter* w = senders_.head) {
            static_cast<send_waiter*>(w)->closed = true;
            detail::grant_first(senders_);
        }
    }

    /// Sends without waiting: coil::errc::closed, std::errc::operation_would_block when full, or
    /// success. Moves from `value` only on success.
    result<void> try_send(T&& value) {
        std::lock_guard lock(mutex_);
        if (closed_) return errc::closed;
        if (!offer_locked(value)) return std::errc::operation_would_block;
        return {};
    }

    /// Receives without waiting: a value, coil::errc::closed once closed and drained, or
    /// std::errc::operation_would_block when empty and open.
    result<T> try_receive() {
        std::lock_guard lock(mutex_);
        if (!queue_.empty()) {
            refill_locked();  // first: if it throws, nothing was taken (see "Exceptions")
            result<T> out(std::move(queue_.front()));
            queue_.pop_front();
            return out;
        }
        if (closed_) return errc::closed;
        return std::errc::operation_would_block;
    }

private:
    struct send_waiter : detail::sync_waiter {
        std::optional<T>* value = nullptr;
        bool closed = false;
    };
    struct receive_waiter : detail::sync_waiter {
        std::optional<T> value;
        bool closed = false;
    };

public:
    class [[nodiscard]] send_awaitable
        : public detail::sync_awaitable<send_awaitable, send_waiter> {
        using base = detail::sync_awaitable<send_awaitable, send_waiter>;

    public:
        send_awaitable(channel& ch, T&& value) : channel_(ch), value_(std::move(value)) {
            this->waiter_.value = &value_;
        }
        send_awaitable(send_awaitable&& other) noexcept(std::is_nothrow_move_constructible_v<T>)
            : base(std::move(other)), channel_(other.channel_), value_(std::move(other.value_)) {
            this->waiter_.value = &value_;
        }
        ~send_awaitable() {
            // Unlinked here, not in the base's destructor: a receive on another thread may take
            // *value_ from a parked sender until then. A granted sender's value was queued
            // already (or the channel closed): nothing to give back.
            this->abandon_parked([] {});
        }

        result<void> await_resume() noexcept {
            if (this->ended_by_cancel()) return std::errc::operation_canceled;
            if (this->waiter_.closed) return errc::closed;
            return {};
        }

    private:
        friend base;
        std::mutex& sync_mutex() noexcept { return channel_.mutex_; }
        detail::waiter_list& waiters() noexcept { return channel_.senders_; }
        detail::attempt try_take_locked() {
            if (channel_.closed_) {
                this->waiter_.closed = true;
                return detail::attempt::refused;
            }
            if (!channel_.offer_locked(*value_)) return detail::attempt::park;
            value_.reset();
            return detail::attempt::taken;
        }

        channel& channel_;
        std::optional<T> value_;
    };

    class [[nodiscard]] receive_awaitable
        : public detail::sync_awaitable<receive_awaitable, receive_waiter> {
        using base = detail::sync_awaitable<receive_awaitable, receive_waiter>;

    public:
        explicit receive_awaitable(channel& ch) noexcept : channel_(ch) {}
        receive_awaitable(receive_awaitable&&) noexcept = default;
        ~receive_awaitable() {
            this->abandon_parked([this] {
                if (!this->waiter_.value) return;
                try {
                    channel_.give_back_locked(std::move(*this->waiter_.value));
                } catch (...) {
                    // A destructor cannot report it, and terminating the process for one value
                    // is worse than losing it: say so through the log hook.
                    log(log_level::error,
                        "coil::channel: a value handed to a receiver destroyed before it ran was "
                        "dropped: moving it back into the channel threw");
                }
            });
        }

        result<T> await_resume() {
            if (this->ended_by_cancel()) return std::errc::operation_canceled;
            if (this->waiter_.value) {
                result<T> out(std::move(*this->waiter_.value));
                this->waiter_.value.reset();
                return out;
            }
            assert(this->waiter_.closed);
            return errc::closed;
        }

    private:
        friend base;
        std::mutex& sync_mutex() noexcept { return channel_.mutex_; }
        detail::waiter_list& waiters() noexcept { return channel_.receivers_; }
        detail::attempt try_take_locked() {
            if (!channel_.queue_.empty()) {
                channel_.refill_locked();  // first: if it throws, nothing was taken
                this->waiter_.value.emplace(std::move(channel_.queue_.front()));
                channel_.queue_.pop_front();
                return detail::attempt::taken;
            }
            if (channel_.closed_) {
                this->waiter_.closed = true;
                return detail::attempt::refused;
            }
            return detail::attempt::park;
        }

        channel& channel_;
    };

    /// Sends `value` (see the top of this file). The value is moved into the awaitable at once.
    send_awaitable send(T value) { return send_awaitable(*this, std::move(value)); }
    /// Receives the oldest value (see the top of this file).
    receive_awaitable receive() noexcept { return receive_awaitable(*this); }

private:
    // Hands `value` to the first parked receiver or queues it if there is room; moves from it
    // only then. The caller holds mutex_ and checked closed_.
    bool offer_locked(T& value) {
        if (detail::sync_waiter* w = receivers_.head) {
            static_cast<receive_waiter*>(w)->value.emplace(std::move(value));
            detail::grant_first(receivers_);
            return true;
        }
        if (queue_.size() >= capacity_) return false;
        queue_.push_back(std::move(value));
        return true;
    }
    // A receive is about to take a value: the first parked sender's value joins the queue (which
    // holds one value more than its capacity until the receive pops the front). Mutex held. If the
    // value's move (or the queue's allocation) throws, nothing changed: the sender stays parked.
    void refill_locked() {
        if (detail::sync_waiter* w = senders_.head) {
            send_waiter& s = *static_cast<send_waiter*>(w);
            queue_.push_back(std::move(**s.value));
            s.value->reset();
            detail::grant_first(senders_);
        }
    }
    // A value handed to a receiver that is gone: to the next receiver, else back to the front.
    void give_back_locked(T&& value) {
        if (detail::sync_waiter* w = receivers_.head) {
            static_cast<receive_waiter*>(w)->value.emplace(std::move(value));
            detail::grant_first(receivers_);
            return;
        }
        queue_.push_front(std::move(value));
    }

    mutable std::mutex mutex_;
    std::deque<T> queue_;
    detail::waiter_list senders_;
    detail::waiter_list receivers_;
    std::size_t capacity_;
    bool closed_ = false;
};

}  // namespace coil
