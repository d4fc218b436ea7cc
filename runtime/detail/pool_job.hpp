#pragma once
// The shared state of one thread_pool job: what the pool thread runs, what the awaiting coroutine
// reads back, and how the completion crosses back to the awaiter's loop.
//
// Ownership: reference counted, because either side may go first. The awaiter holds one
// reference for as long as it lives; the pool holds one from submission until it has delivered
// the completion (or withdrawn the job). A delivery posted to the loop holds one more.
// Threading: `status`, `prev`, `next` belong to the pool's mutex (pool_core::mutex). `loop_` is
// guarded by `deliver_mutex_`: the pool thread posts the completion under it, and the loop
// thread clears it (detach) under it, so once detach() returns no pool thread touches that loop
// again, and the loop may be destroyed. `waiter_` is the loop thread's only. The outcome
// (value, exception, cancelled) is written by whoever completes the job before deliver() and read
// on the loop thread after the delivery ran there: event_loop::post's mutex orders the two.

#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <type_traits>
#include <utility>

#include "coil/runtime/detail/ready_queue.hpp"

namespace coil {
class event_loop;
}

namespace coil::detail {

struct pool_core;

class pool_job {
public:
    enum class status : unsigned char {
        fresh,      // made, not submitted
        waiting,    // submitted while the queue was full: waits for room (awaiter suspended)
        queued,     // in the bounded queue
        running,    // on a pool thread
        done,       // ran, or was completed as cancelled by the pool's shutdown
        withdrawn,  // taken back by its awaiter before it started (cancelled or destroyed)
    };

    pool_job() = default;
    pool_job(const pool_job&) = delete;
    pool_job& operator=(const pool_job&) = delete;

    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    /// Pool thread: runs the function, keeps its value or exception, destroys the function.
    virtual void execute(std::stop_token token) noexcept = 0;

    /// Any thread: posts the completion to the awaiter's loop unless the awaiter let go.
    void deliver() noexcept;
    /// Loop thread: no delivery reaches the loop after this returns.
    void detach() noexcept {
        std::lock_guard lock(deliver_mutex_);
        loop_ = nullptr;
    }
    /// Loop thread, before submission.
    void attach(event_loop& loop, ready_node& waiter) noexcept {
        loop_ = &loop;
        waiter_ = &waiter;
    }
    /// Loop thread: the awaiter stops waiting for a delivery (it was resumed, or is going away).
    void forget_waiter() noexcept { waiter_ = nullptr; }

    // Pool-mutex state.
    status state = status::fresh;
    pool_job* prev = nullptr;
    pool_job* next = nullptr;

    std::stop_source stop;
    /// The job never ran: withdrawn, or cancelled by the pool's shutdown.
    bool cancelled = false;

protected:
    virtual ~pool_job() = default;

private:
    static void on_delivered(event_loop& loop, pool_job& job) noexcept;

    std::atomic<std::size_t> refs_{1};
    std::mutex deliver_mutex_;
    event_loop* loop_ = nullptr;
    ready_node* waiter_ = nullptr;
};

/// The outcome of a job whose function returns R.
template <class R>
class pool_job_result : public pool_job {
public:
    std::exception_ptr error;
    // R may lack a default constructor; void results keep nothing.
    struct empty {};
    using storage = std::conditional_t<std::is_void_v<R>, empty, std::optional<R>>;
    storage value;
};

/// A job running `Fn`, offered a std::stop_token when Fn takes one.
template <class Fn, class R>
class pool_job_impl final : public pool_job_result<R> {
public:
    template <class F>
    explicit pool_job_impl(F&& fn) : fn_(std::in_place, std::forward<F>(fn)) {}

    void execute(std::stop_token token) noexcept override {
        try {
            if constexpr (std::is_void_v<R>) {
                invoke(token);
            } else {
                this->value.emplace(invoke(token));
            }
        } catch (...) {
            this->error = std::current_exception();
        }
        // The captures go now, on the pool thread, not whenever the last reference does.
        fn_.reset();
    }

private:
    decltype(auto) invoke(std::stop_token& token) {
        if constexpr (std::is_invocable_v<Fn&, std::stop_token>) {
            return (*fn_)(token);
        } else {
            return (*fn_)();
        }
    }

    std::optional<Fn> fn_;
};

/// Hands `job` to the pool (which takes a reference). False if the pool is stopped.
bool pool_submit(pool_core& pool, pool_job& job);
/// Takes `job` back if it has not started; true if it did (and the pool's reference is dropped).
bool pool_withdraw(pool_core& pool, pool_job& job) noexcept;

}  // namespace coil::detail
