#pragma once
// coil::io_handle: an fd owner that counts its in-flight operations, so that the fd is closed only
// after the last of them has completed.
//
//     coil::io_handle h{std::move(fd)};
//     auto n = co_await h.track(coil::recv(h.fd(), buf));   // counted while in flight
//
// Lifetime: destroying the handle while operations are in flight (in other tasks) cancels them
// (io_uring: ASYNC_CANCEL by fd; epoll: the waiting ops complete with operation_canceled) and
// closes the fd when the last one completes. With nothing in flight it closes at once.
// An operation started after the handle was closed completes with bad_file_descriptor without
// touching the fd, also one made by track() before the close and awaited after it (e.g. handed
// to with_timeout or when_all first): the fd number it was made with may belong to another file
// by then.
// Closing through the handle is the only way: an owned fd must never be ::close()d behind its
// back (the backend keeps per-fd state for it, see runtime/io.hpp).
// Threading: loop thread only; the handle belongs to the loop that is current when it is made.
// It may outlive that loop (then it closes without one; docs/lifetimes.md).

#include <coroutine>
#include <cstdint>
#include <system_error>
#include <type_traits>
#include <utility>

#include "coil/runtime/detail/awaitable_traits.hpp"
#include "coil/runtime/detail/loop_binding.hpp"
#include "coil/runtime/detail/write_queue.hpp"
#include "coil/runtime/unique_fd.hpp"

namespace coil {

class event_loop;
class pooled_recv_awaitable;

namespace detail {

struct pooled_recv_state;

// Bound to its loop (loop_binding): when the loop is destroyed first, `loop` becomes null and
// the record (its fd still open) is closed later without a loop.
// Two counts keep it: `in_flight` (operations started and not finished: the fd stays open for
// them) and `refs` (op_counters alive, i.e. operations made through the handle, started or not).
// An awaitable made before close() and awaited after it must find the record to learn that the
// handle is gone, so the record is freed only when the handle is gone and both counts are 0; the
// fd itself closes as soon as the handle is gone and nothing is in flight.
struct fd_record : loop_binding {
    fd_record(int f, event_loop* l) noexcept : fd(f), loop(l) {}
    int fd = -1;                 // -1 once closed
    std::uint32_t in_flight = 0;
    std::uint32_t refs = 0;
    bool orphaned = false;  // the handle is gone: close at in_flight 0, free at refs 0 too
    bool pooled_busy = false;  // a recv_pooled is waiting (one at a time)
    event_loop* loop = nullptr;
    write_queue writes;  // whole-message writers take turns here (send_all)
    // io_uring pooled receives: the connection's multishot recv and its queue (made on the first
    // recv_pooled; runtime/detail/pooled_recv_state.hpp). While it is armed the fd stays open.
    pooled_recv_state* pooled = nullptr;
};

// For an orphaned record: closes the fd once nothing is in flight, frees the record once nothing
// refers to it either.
void settle_fd_record(fd_record* record) noexcept;

// Counts one operation as in flight from its start until its awaiter is resumed or destroyed.
class op_counter {
public:
    explicit op_counter(fd_record* record) noexcept : record_(record) { add_ref(); }
    // A copy does not count (awaiters are copied only before they start); a move takes the count.
    op_counter(const op_counter& other) noexcept : record_(other.record_) { add_ref(); }
    op_counter(op_counter&& other) noexcept
        : record_(std::exchange(other.record_, nullptr)),
          counting_(std::exchange(other.counting_, false)) {}
    op_counter& operator=(const op_counter&) = delete;
    ~op_counter() {
        stop();
        if (record_ == nullptr) return;
        --record_->refs;
        if (record_->orphaned) settle_fd_record(record_);
    }

    /// The fd (-1 for a closed handle); valid while this counts, even after the handle let go.
    [[nodiscard]] int fd() const noexcept { return record_ ? record_->fd : -1; }
    /// The handle was closed (reset) while this counted: stop, the fd closes once we are done.
    [[nodiscard]] bool closing() const noexcept { return record_ == nullptr || record_->orphaned; }
    /// The record (null for a closed handle).
    [[nodiscard]] fd_record* record() const noexcept { return record_; }
    /// The fd's writer FIFO (null for a closed handle); valid while this counts.
    [[nodiscard]] write_queue* writes() const noexcept { return record_ ? &record_->writes : nullptr; }
    /// The handle this was made from has been closed since (an op made before close() and
    /// started after it): the op must not start, the fd is closed or closing.
    [[nodiscard]] bool closed_since_made() const noexcept { return record_ != nullptr && record_->orphaned; }

    void start() noexcept {
        if (record_ == nullptr) return;  // a closed handle: the op runs on fd -1 and fails (EBADF)
        ++record_->in_flight;
        counting_ = true;
    }
    void stop() noexcept {
        if (!counting_) return;
        counting_ = false;
        --record_->in_flight;
        if (record_->orphaned) settle_fd_record(record_);
    }

private:
    void add_ref() noexcept {
        if (record_) ++record_->refs;
    }

    fd_record* record_;
    bool counting_ = false;
};

}  // namespace detail

/// An awaitable that counts as in flight on an io_handle while it runs.
template <class Awaitable>
class [[nodiscard]] tracked_awaitable {
public:
    tracked_awaitable(detail::fd_record* record, Awaitable inner) noexcept
        : counter_(record), inner_(std::move(inner)) {}

    bool await_ready() noexcept { return inner_.await_ready(); }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> awaiting) {
        if (counter_.closed_since_made()) {
            // Made before the handle was closed, awaited after: the fd number it holds is
            // closed (maybe reused by another file) or being closed. Don't touch it.
            refused_ = true;
            return false;
        }
        counter_.start();
        const bool suspended = inner_.await_suspend(awaiting);
        if (!suspended) counter_.stop();
        return suspended;
    }
    decltype(auto) await_resume() {
        if (refused_) {
            using result_type = std::remove_cvref_t<decltype(inner_.await_resume())>;
            return result_type(std::make_error_code(std::errc::bad_file_descriptor));
        }
        counter_.stop();
        return inner_.await_resume();
    }

private:
    // Declared first, destroyed last: the inner awaiter drains its op before the count drops.
    detail::op_counter counter_;
    Awaitable inner_;
    bool refused_ = false;
};

class io_handle {
public:
    io_handle() noexcept = default;
    /// Takes ownership of `fd`. Throws std::logic_error without an event loop on this thread.
    explicit io_handle(unique_fd fd);
    io_handle(io_handle&& other) noexcept : record_(std::exchange(other.record_, nullptr)) {}
    io_handle& operator=(io_handle&& other) noexcept {
        if (this != &other) {
            reset();
            record_ = std::exchange(other.record_, nullptr);
        }
        return *this;
    }
    io_handle(const io_handle&) = delete;
    io_handle& operator=(const io_handle&) = delete;
    ~io_handle() { reset(); }

    [[nodiscard]] int fd() const noexcept { return record_ ? record_->fd : -1; }
    [[nodiscard]] bool valid() const noexcept { return record_ != nullptr; }
    /// Operations started through track() and not yet finished.
    [[nodiscard]] std::uint32_t in_flight() const noexcept { return record_ ? record_->in_flight : 0; }

    template <class Awaitable>
    tracked_awaitable<Awaitable> track(Awaitable op) const noexcept {
        return tracked_awaitable<Awaitable>(record_, std::move(op));
    }

    /// A count for an operation made now and started later (by the composed awaitable that holds
    /// it, e.g. send_all_awaitable): as in track(), it keeps the fd record, so that an operation
    /// awaited after the handle was closed finds it closed; start() and stop() it around the run.
    [[nodiscard]] detail::op_counter counter() const noexcept { return detail::op_counter(record_); }

    /// A receive into a buffer of the loop's receive pool (runtime/pooled_recv.hpp has the
    /// contract; include it to use this).
    pooled_recv_awaitable recv_pooled() const noexcept;

    /// Counts as one operation in flight for as long as the result lives: for a composed
    /// operation (several awaits, e.g. send_all) or one that goes through another object (the
    /// listener's acceptor). reset() then cancels the ops on the fd, and the fd stays open until
    /// the hold ends; hold.closing() tells the composed operation to stop.
    [[nodiscard]] detail::op_counter hold() const noexcept {
        detail::op_counter counter(record_);
        counter.start();
        return counter;
    }

    /// Closes now if nothing is in flight; otherwise cancels what is and closes after it.
    void reset() noexcept;

private:
    detail::fd_record* record_ = nullptr;
};

}  // namespace coil
