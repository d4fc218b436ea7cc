#pragma once
// coil::thread_pool and coil::offload: run blocking or CPU-heavy work off the event loop.
//
//     coil::result<int> n = co_await coil::offload([] { return count_primes(1'000'000); });
//     coil::thread_pool pool({.threads = 2, .queue_capacity = 64});
//     coil::result<std::string> s = co_await pool.run([](std::stop_token st) { return work(st); });
//
// Result: `co_await pool.run(fn)` yields result<R>, R being fn's return type (decayed; void gives
// result<void>): fn's value; or std::errc::operation_canceled if the job never ran (the awaiting
// task was cancelled before a pool thread took the job, or the pool was stopped first). An
// exception thrown by fn is rethrown by the co_await, in the awaiting coroutine. A result fn
// returns is not unwrapped: fn returning result<T> gives result<result<T>>.
// Where it resumes: always on the thread of the loop it was awaited on (event_loop::current() at
// the co_await: after co_await switch_to(other), that is `other`), in a later turn of that
// loop (the pool thread posts the completion with event_loop::post, which wakes the loop by
// IORING_OP_MSG_RING or its eventfd; docs/threading.md has the measured cost of each).
// GCC 12: a lambda with init-captures that own memory must be named before the co_await
// (`auto job = [s = std::move(s)] {...}; co_await pool.run(std::move(job));`), see docs/gcc12.md.
// fn runs on a pool thread: it must not touch the loop or anything of it (tasks, I/O objects,
// cancel tokens), except event_loop::post, which any thread may call while the loop lives. fn is moved into the job when run() is called, and destroyed on the pool thread
// right after it ran (or wherever the job is dropped, if it never runs).
// Back-pressure: the pool's queue holds at most `queue_capacity` jobs not yet started. A co_await
// that finds it full suspends its coroutine (the loop keeps running) and waits, in FIFO order
// with the other waiters, until a pool thread takes a job; nothing is dropped and nothing blocks.
// Cancellation (the task's cancel token, cancel.hpp): a job not started yet, queued or waiting for
// room, is dropped at once and the await ends with operation_canceled. A running job cannot be
// interrupted: its std::stop_token (when fn takes one) is requested to stop, and the await still
// waits for fn to return and yields what it returned (or threw). A task destroyed while its job
// runs: the job is asked to stop, and its result is discarded on completion; the job never touches
// the destroyed frame.
// Deadlines: with_timeout/with_deadline cancel, so the same holds: around a job that has started,
// `co_await coil::with_timeout(pool.run(fn), d)` waits for fn to return and yields fn's value as a
// success, not timed_out (with_timeout.hpp returns a result that arrived); add
// .abandon_on_cancel() to end with timed_out at the deadline.
// Loop liveness: while a job is out, the awaiter holds an event_loop::external_work, so run() does
// not declare a deadlock while it waits.
// Shutdown (stop() or the destructor): no new job is accepted (a later co_await ends with
// operation_canceled at once); jobs queued or waiting for room are completed as cancelled
// (operation_canceled, delivered to their loops as usual), never run and never lost; running
// jobs are asked to stop (their stop token) and waited for, and their results delivered.
// Threading: run(), stop(), and the counters are callable from any thread. Pool threads block
// every signal, so a process-directed signal goes to a thread that expects it (signal_set).
// Lifetime: a pool may be destroyed while coroutines still await it (they then end cancelled, or
// with their running job's result); the default pool lives until static destruction at exit.

#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <stop_token>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "coil/runtime/cancel.hpp"
#include "coil/runtime/detail/loop_binding.hpp"
#include "coil/runtime/detail/pool_job.hpp"
#include "coil/runtime/detail/ready_queue.hpp"
#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

struct pool_options {
    /// Pool threads; 0: std::thread::hardware_concurrency() (at least 1).
    std::size_t threads = 0;
    /// Jobs that may wait in the queue, not yet started (at least 1: 0 is taken as 1); more wait
    /// for room.
    std::size_t queue_capacity = 1024;
    /// The nice value (-20..19) each pool thread gives itself when it starts (setpriority(2) on
    /// the thread: on Linux, nice is per thread); unset: the creating thread's, inherited. A
    /// higher nice than the loops' (e.g. 10) gives the loop threads the larger share of a core
    /// they share with CPU-bound jobs (CFS/EEVDF weights: nice 10 weighs about a tenth of nice 0).
    /// It does not make a loop's wake-ups faster: measured, offload's p99 stayed the same with
    /// the pool at nice 10, 19 or SCHED_IDLE (docs/benchmarks.md, "Offload"). Below the inherited
    /// value needs CAP_SYS_NICE (or RLIMIT_NICE); the constructor then throws std::system_error
    /// (EACCES). Out of range: std::invalid_argument.
    std::optional<int> nice = std::nullopt;
};

template <class R>
class offload_awaitable;

class thread_pool {
public:
    /// Starts the threads and, with options.nice, waits until each has set its nice value.
    /// Throws std::system_error if a thread cannot be started or cannot set its nice value (no
    /// thread is left running then), std::invalid_argument if options.nice is out of range.
    explicit thread_pool(pool_options options = {});
    /// stop().
    ~thread_pool();
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;

    /// The process's default pool, sized to the cores, made on first use and stopped and joined
    /// at static destruction (exit or return from main). Thread-safe.
    static thread_pool& default_pool();

    /// An awaitable that runs `fn` (callable as fn() or fn(std::stop_token)) on a pool thread; see
    /// the top of this file.
    template <class Fn>
    auto run(Fn&& fn);

    /// Stops the pool (see "Shutdown" above) and joins its threads. Idempotent; concurrent calls
    /// are safe (one joins, the others wait for it). Called on a pool thread (from inside a job),
    /// it does not wait for that thread: it detaches it, or, if another stop() is joining the
    /// threads already, returns at once (that one joins this thread once the job returns).
    void stop();

    [[nodiscard]] std::size_t threads() const noexcept { return thread_count_; }
    [[nodiscard]] std::size_t queue_capacity() const noexcept { return capacity_; }
    /// Snapshot counters (thread-safe; stale as soon as they return): jobs in the queue, jobs
    /// waiting for room in it, jobs running on pool threads.
    [[nodiscard]] std::size_t queued() const;
    [[nodiscard]] std::size_t waiting() const;
    [[nodiscard]] std::size_t running() const;

private:
    std::shared_ptr<detail::pool_core> core_;
    std::vector<std::thread> workers_;
    std::size_t thread_count_;
    std::size_t capacity_;
};

/// What `co_await pool.run(fn)` suspends on. Move-only until awaited; awaited at most once.
template <class R>
class [[nodiscard]] offload_awaitable {
public:
    offload_awaitable(std::shared_ptr<detail::pool_core> pool, detail::pool_job_result<R>* job) noexcept
        : pool_(std::move(pool)), job_(job) {}
    offload_awaitable(offload_awaitable&& other) noexcept
        : pool_(std::move(other.pool_)),
          job_(std::exchange(other.job_, nullptr)),
          abandon_on_cancel_(other.abandon_on_cancel_) {}
    offload_awaitable& operator=(const offload_awaitable&) = delete;
    ~offload_awaitable() {
        if (job_ == nullptr) return;
        if (state_.pending) abandon();
        static_cast<detail::ready_node&>(state_).unlink();  // resumption scheduled, not yet run
        job_->release();
    }

    /// Makes a cancellation that finds the job running end the await at once with
    /// operation_canceled, instead of waiting for fn: the job is asked to stop and runs on, its
    /// result discarded. For calls that cannot be interrupted (getaddrinfo); the pool thread stays
    /// busy until fn returns.
    offload_awaitable&& abandon_on_cancel() && noexcept {
        abandon_on_cancel_ = true;
        return std::move(*this);
    }

    bool await_ready() const noexcept { return false; }

    template <class P>
    bool await_suspend(std::coroutine_handle<P> awaiting) {
        detail::cancel_state* cancel = detail::cancel_state_of(awaiting);
        if (cancel && cancel->requested()) {
            job_->cancelled = true;
            return false;
        }
        event_loop& loop = event_loop::current_or_throw();
        state_.handle = awaiting;
        state_.owner = this;
        job_->attach(loop, state_);
        if (!detail::pool_submit(*pool_, *job_)) {
            job_->detach();
            job_->forget_waiter();
            job_->cancelled = true;
            return false;
        }
        state_.loop = &loop;
        state_.pending = true;
        keep_alive_.emplace(loop);
        state_.on_loop_gone = &loop_gone;
        loop.bind(state_);
        if (cancel) {
            state_.on_cancel = &on_cancel;
            cancel->attach(state_);
        }
        return true;
    }

    result<R> await_resume() {
        finish();
        // job_->cancelled: the pool never ran it; abandoned_: it may still be running (do not
        // read its outcome, a pool thread may be writing it).
        if (abandoned_ || job_->cancelled) return std::errc::operation_canceled;
        // Taken out of the job: the pool thread may drop the job's last reference later, and it
        // should not be the one to free an exception this thread may still be handling.
        if (job_->error) std::rethrow_exception(std::exchange(job_->error, nullptr));
        if constexpr (std::is_void_v<R>) {
            return {};
        } else {
            return std::move(*job_->value);
        }
    }

private:
    struct state : detail::ready_node, detail::cancel_link, detail::loop_binding {
        offload_awaitable* owner = nullptr;
        event_loop* loop = nullptr;
        bool pending = false;  // submitted and not yet resumed
    };

    // The completion reached us (or the job was withdrawn): stop everything that waits for it.
    void finish() noexcept {
        // The pool thread that posted our completion may still be inside event_loop::post (its
        // wake) after the loop ran the posted function: wait for it to leave, under the
        // job's lock, before this task (and then perhaps the loop) may go away.
        if (state_.loop) job_->detach();
        detail::cancel_state::unlink(state_);
        if (state_.loop) state_.loop->unbind(state_);
        keep_alive_.reset();
        state_.pending = false;
    }

    // The frame goes away (or its loop does) while the job is out: take the job back if it has
    // not started, else ask it to stop; either way no delivery reaches this frame or loop.
    void abandon() noexcept {
        detail::cancel_state::unlink(state_);
        static_cast<detail::ready_node&>(state_).unlink();
        if (!pool_withdraw()) job_->stop.request_stop();
        job_->detach();
        job_->forget_waiter();
        finish();
    }

    bool pool_withdraw() noexcept { return detail::pool_withdraw(*pool_, *job_); }

    static void on_cancel(detail::cancel_link& link) noexcept {
        state& s = static_cast<state&>(link);
        offload_awaitable& self = *s.owner;
        if (self.pool_withdraw()) {
            self.job_->cancelled = true;
            self.job_->forget_waiter();
            s.loop->schedule(s);
        } else if (self.abandon_on_cancel_) {
            self.abandon();  // asks it to stop; no delivery reaches us any more
            self.abandoned_ = true;
            s.loop->schedule(s);
        } else {
            self.job_->stop.request_stop();  // running: fn decides; we still wait for it
        }
    }

    static void loop_gone(detail::loop_binding& b) noexcept {
        state& s = static_cast<state&>(b);
        s.owner->abandon();
        s.loop = nullptr;
    }

    // Shared with the pool, so that a withdrawal after the pool was destroyed is safe.
    std::shared_ptr<detail::pool_core> pool_;
    detail::pool_job_result<R>* job_;
    state state_;
    std::optional<event_loop::external_work> keep_alive_;
    bool abandon_on_cancel_ = false;
    bool abandoned_ = false;
};

template <class Fn>
auto thread_pool::run(Fn&& fn) {
    using F = std::decay_t<Fn>;
    using raw = std::conditional_t<std::is_invocable_v<F&, std::stop_token>,
                                   std::invoke_result<F&, std::stop_token>, std::invoke_result<F&>>;
    using R = std::remove_cvref_t<typename raw::type>;
    return offload_awaitable<R>(core_, new detail::pool_job_impl<F, R>(std::forward<Fn>(fn)));
}

/// Runs `fn` on the default pool (thread_pool::default_pool()); see thread_pool::run.
template <class Fn>
auto offload(Fn&& fn) {
    return thread_pool::default_pool().run(std::forward<Fn>(fn));
}

}  // namespace coil
