#pragma once
// coil::event_loop: one per thread; runs tasks, timers and I/O on one backend.
//
// Usage:
//     coil::event_loop loop;                   // picks io_uring or epoll (see docs/backends.md)
//     int n = loop.run(count_lines(path));     // drives the task to completion, returns its value
// or simply `coil::run(task)`, which makes a loop for the call.
//
// Threading: a loop belongs to the thread that constructed it (at most one per thread); all
// members but post() must be called on that thread. Tasks run on their loop's thread only.
// Lifetime: destroying the loop destroys the spawned tasks still running; each of their in-flight
// operations is cancelled and drained first, so no kernel write outlives a frame. I/O objects made
// on the loop (tcp_listener, tcp_stream, acceptor, io_handle, signal_set) may outlive it: the loop
// drains what its backend holds for them, and they are safe to destroy (or to use on a later loop
// of the same thread) afterwards; see docs/lifetimes.md.
// Signals: constructing a loop sets SIGPIPE to ignored if it was at its default (killing the
// process), so a write to a closed peer reports EPIPE; a handler the application set is kept.

#include <atomic>
#include <cstdint>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coil/runtime/backend_kind.hpp"
#include "coil/runtime/cancel.hpp"
#include "coil/runtime/detail/deadline.hpp"
#include "coil/runtime/detail/detached.hpp"
#include "coil/runtime/detail/io_op.hpp"
#include "coil/runtime/detail/loop_binding.hpp"
#include "coil/runtime/detail/ready_queue.hpp"
#include "coil/runtime/detail/timer_heap.hpp"
#include "coil/runtime/loop_stats.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

namespace detail {
class backend;
class buffer_pool;
}

struct loop_options {
    /// The backend to use unless COIL_BACKEND says otherwise; nullopt: probe (io_uring first).
    std::optional<backend_kind> backend;

    /// Test hook, like tokio's paused clock (`tokio::time::pause`): the loop's timers run on a
    /// manual clock instead of the monotonic one. It starts at the monotonic clock's reading
    /// when the loop is made and moves only
    /// - by auto-advance: when the loop would otherwise wait and a timer is armed, it first polls
    ///   I/O without blocking; if that made nothing ready, the clock jumps to the earliest
    ///   deadline, which then fires. So sleeps take no real time, and timers fire in deadline
    ///   order however long they are. Auto-advance is held back while an external_work guard
    ///   exists (another thread may post back; tokio does the same for spawn_blocking): the
    ///   loop then waits for I/O or a post without a time limit.
    /// - by event_loop::advance(d).
    /// I/O still runs on the kernel's time: a timeout racing I/O that depends on another thread
    /// or process fires as soon as the loop is idle. Use it for tests whose order comes from
    /// timers, not from the kernel. Off (the default), the loop pays one predictable branch per
    /// clock reading and nothing else.
    bool paused_clock = false;

    /// Pooled receives (tcp_stream::recv_pooled, coil::pooled_buffer): the loop keeps one pool of
    /// `recv_buffer_count` buffers of `recv_buffer_size` bytes, made on the first pooled receive
    /// (a loop that never uses it pays nothing). Each receive yields at most one buffer's worth.
    /// On io_uring the pool is a provided buffer ring that multishot receives pick from; on
    /// epoll a buffer is taken only once a socket is readable. recv_buffer_size 0 (the default)
    /// takes the backend's size:
    /// - io_uring: 4 KiB. The ring hands buffers out in turn, so under load every buffer becomes
    ///   resident; 4 KiB x 2048 (8 MiB) keeps that under 1 KiB per connection at 10,000.
    /// - epoll: 16 KiB. The most recently returned buffer is taken first and only the bytes
    ///   received touch its pages, so a larger buffer costs address space, not memory; and a
    ///   read shorter than the buffer shows the socket drained, so a message of up to 16 KiB - 1
    ///   costs one recv, where a 4 KiB message in a 4 KiB buffer cost a second one (EAGAIN).
    /// docs/backends.md says how they were chosen. Limits: size 1 .. 1 GiB (or 0), count
    /// 1 .. 32768 (the kernel's ring limit); otherwise the loop's constructor throws
    /// std::invalid_argument.
    std::uint32_t recv_buffer_size = 0;
    std::uint32_t recv_buffer_count = 2048;
    /// io_uring: pooled receives use a multishot recv with a provided buffer ring (the default).
    /// false: they wait for readiness and then recv into a pool buffer, as where the kernel has
    /// no buffer rings (for comparison, and to test that path).
    bool recv_multishot = true;
    /// io_uring: post() from another thread wakes the loop with a synchronous IORING_OP_MSG_RING
    /// message (the default, where the kernel has it: Linux 6.13+, checked when the loop is
    /// made; one syscall, no fd). false: an eventfd write, as on epoll and on older kernels (for
    /// comparison, or where a kernel's MSG_RING is suspect). docs/threading.md has the figures.
    bool wake_msg_ring = true;
};

class event_loop {
public:
    explicit event_loop(loop_options options = {});
    ~event_loop();
    event_loop(const event_loop&) = delete;
    event_loop& operator=(const event_loop&) = delete;

    /// The loop of the calling thread, or null.
    static event_loop* current() noexcept;
    /// The loop of the calling thread; throws std::logic_error with advice if there is none.
    static event_loop& current_or_throw();

    [[nodiscard]] backend_kind backend() const noexcept { return kind_; }
    /// Why this backend was chosen (forced by COIL_BACKEND, configured, or the probe's finding).
    [[nodiscard]] const std::string& backend_reason() const noexcept { return reason_; }
    /// How post() from another thread wakes this loop: "IORING_OP_MSG_RING" or "eventfd"
    /// (loop_options::wake_msg_ring).
    [[nodiscard]] std::string_view wake_method() const noexcept;

    /// Drives `t` (and everything else on this loop) until `t` finishes; returns its value or
    /// rethrows its exception. Throws std::logic_error if `t` can never finish (it waits while no
    /// operation, timer or cross-thread post is pending; a sleep that never expires arms no
    /// timer, see docs/time.md). Not reentrant. `t` runs under its own token
    /// (set_cancel_token) if it has one, else under none.
    template <class T>
    T run(task<T> t);

    /// Starts `t` detached: it runs concurrently and is owned by the loop. An exception escaping
    /// it goes to the unhandled-exception handler (by default: logged at error level).
    /// Spawned tasks run under the loop's cancel scope (cancel_spawned()) and, if they have one,
    /// their own token (set_cancel_token) too: either cancels them.
    void spawn(task<void> t);

    /// Requests cancellation of every spawned task (e.g. on SIGTERM). Only a request.
    void cancel_spawned() noexcept { spawn_scope_.request_cancel(); }

    // ---- Counters, for tests and diagnostics (loop thread only; O(1), nothing is tracked
    // ---- for them that the loop does not need anyway).
    /// Tasks started with spawn() that have not finished yet (they are owned by the loop);
    /// task_group children and run()'s root are not counted.
    [[nodiscard]] std::size_t spawned_count() const noexcept { return detached_.size(); }
    /// Timers armed now: pending sleeps and with_timeout deadlines. A deadline that never
    /// expires (clock::time_point::max(), e.g. sleep_for(hours::max())) arms no timer.
    [[nodiscard]] std::size_t armed_timers() const noexcept { return timers_.size(); }
    /// I/O operations started on the backend and not yet completed (a multishot accept counts
    /// once while it is armed, and so does a stream's multishot recv for recv_pooled on io_uring,
    /// which stays armed between calls until the stream closes). The backend's own wake-up read is not counted. After a task
    /// holding I/O is destroyed or its operations are cancelled and reaped, this is back to
    /// what it was: 0 on a quiet loop.
    [[nodiscard]] std::size_t io_in_flight() const noexcept;
    /// Receive-pool buffers out of the pool now: held by a coil::pooled_buffer, queued for a
    /// connection whose task has not asked for them yet, or lent to a receive in progress. The
    /// heap buffers that stand in when the pool is empty count too, so this can exceed
    /// loop_options::recv_buffer_count. 0 before the first pooled receive and on a loop whose
    /// pooled buffers were all dropped; an idle connection holds none, on both backends.
    [[nodiscard]] std::size_t pool_buffers_in_use() const noexcept;
    /// Every per-loop counter at once (syscalls, SQEs per submit, completions per reap, and the
    /// gauges above); fields, units and cost in runtime/loop_stats.hpp.
    [[nodiscard]] loop_stats stats() const noexcept;

    // ---- Time
    /// The loop's clock: the monotonic clock, or the manual one with loop_options::paused_clock.
    /// Sleeps and with_timeout measure their durations from this.
    [[nodiscard]] detail::clock::time_point now() const noexcept {
        return paused_ ? manual_now_ : detail::clock::now();
    }
    [[nodiscard]] bool clock_paused() const noexcept { return paused_; }
    /// Paused clock only (std::logic_error otherwise): moves the manual clock `d` forward
    /// (saturating; std::invalid_argument if `d` is negative). Timers now due fire in the loop's
    /// next turn, in deadline order; a caller inside a task sees them after its next suspension.
    void advance(detail::clock::duration d);

    /// Replaces the handler that receives what escapes a spawned task or a function given to
    /// post() (default: logged at error level, docs/errors.md). If the handler throws, the
    /// original exception is logged instead.
    void set_unhandled_exception_handler(std::function<void(std::exception_ptr)> handler);

    /// Runs `fn` on this loop's thread during a later turn. Callable from any thread; an empty
    /// `fn` is a programmer error (std::invalid_argument, at the call, not later on the loop). An
    /// exception out of `fn` goes to the unhandled-exception handler (as one escaping a spawned
    /// task does: logged by default); the other posted functions run regardless.
    void post(std::function<void()> fn);

    /// Keeps run() from declaring a deadlock while work elsewhere will post() back. Thread-safe.
    class external_work {
    public:
        explicit external_work(event_loop& loop) noexcept : loop_(&loop) { loop.external_.fetch_add(1); }
        external_work(const external_work&) = delete;
        external_work& operator=(const external_work&) = delete;
        ~external_work() { loop_->external_.fetch_sub(1); }

    private:
        event_loop* loop_;
    };

    // ---- The interface for awaiters (runtime-internal, public so that awaiter templates can
    // ---- reach it). Not for application code.
    void schedule(detail::ready_node& node) noexcept { ready_.push_back(node); }
    /// Cooperative budget: an operation that completed without suspending calls this; false
    /// means the task has had its share of this turn and should go to the back of the queue.
    [[nodiscard]] bool take_inline_budget() noexcept { return inline_budget_-- > 0; }
    /// Completions without suspending a task may take in a row before it must yield.
    static constexpr int inline_budget_per_resume = 64;
    /// Starts `op` (see backend::start). A read/write/recv/send of 0 bytes completes here, at
    /// once, with 0, and never reaches the backend.
    bool start_io(detail::io_op& op) noexcept;
    void cancel_io(detail::io_op& op) noexcept;
    void abandon_io(detail::io_op& op) noexcept;
    void cancel_fd_ops(int fd) noexcept;
    void register_fd(int fd) noexcept;
    [[nodiscard]] bool supports_multishot_accept() const noexcept;
    /// The receive pool, made on first use; null if its memory cannot be had.
    [[nodiscard]] detail::buffer_pool* recv_pool() noexcept;
    /// Pooled receives go through a multishot recv (io_uring with a provided buffer ring).
    /// Call after recv_pool().
    [[nodiscard]] bool supports_multishot_recv() const noexcept;
    /// Arms `timer` for its (already clamped) deadline; one that never expires is not armed.
    void arm_timer(detail::timer_node& timer) {
        if (!detail::never_expires(timer.deadline)) timers_.push(timer);
    }
    void disarm_timer(detail::timer_node& timer) noexcept { timers_.remove(timer); }
    void fd_closing(int fd) noexcept;
    /// `b` is told (on_loop_gone) if this loop is destroyed before b is unbound.
    void bind(detail::loop_binding& b) noexcept;
    void unbind(detail::loop_binding& b) noexcept;
    /// `origin` names where it escaped, for the default log line ("a spawned task").
    void report_unhandled(std::exception_ptr error, const char* origin = "a spawned task") noexcept;
    void detached_finished(detail::detached_promise& promise) noexcept { detached_.erase(promise); }

private:
    void run_until(const bool& done);
    void run_ready_batch();
    void fire_due_timers();
    void run_posted();
    void wait_for_work();
    void auto_advance(const detail::timer_node& next);

    std::unique_ptr<detail::backend> backend_;
    backend_kind kind_;
    std::string reason_;
    detail::ready_queue ready_;
    detail::timer_heap timers_;
    detail::detached_list detached_;
    detail::loop_binding* bound_ = nullptr;  // objects to tell when this loop goes
    cancel_source spawn_scope_;
    std::function<void(std::exception_ptr)> unhandled_;
    bool running_ = false;
    int inline_budget_ = inline_budget_per_resume;
    bool paused_ = false;
    detail::clock::time_point manual_now_{};
    std::uint32_t recv_buffer_size_;
    std::uint32_t recv_buffer_count_;
    bool recv_multishot_;
    detail::buffer_pool* recv_pool_ = nullptr;  // ref-counted: owner_gone() in the destructor
    bool recv_pool_fed_ = false;                  // the backend took it (provided buffer ring)

    std::mutex posted_mutex_;
    std::vector<std::function<void()>> posted_;
    std::atomic<bool> has_posted_{false};
    std::atomic<std::size_t> external_{0};
};

template <class T>
T event_loop::run(task<T> t) {
    if (!t.valid()) throw std::logic_error("coil::event_loop::run: empty task");
    bool done = false;
    detail::detached_task root = detail::run_to_completion(t);
    root.handle().promise().bind(*this, &done);
    // The root is not in the detached list: run() owns it, and destroys it below if t never
    // finished (deadlock, or an exception out of the loop machinery).
    struct root_guard {
        detail::detached_task& root;
        const bool& done;
        ~root_guard() {
            if (!done) root.destroy();
        }
    } guard{root, done};
    schedule(root.start_node());
    run_until(done);
    return t.take_result();
}

/// Runs `t` on a new event loop made for the call, and returns its value (or rethrows).
template <class T>
T run(task<T> t, loop_options options = {}) {
    event_loop loop(options);
    return loop.run(std::move(t));
}

/// Spawns `t` on the calling thread's loop (see event_loop::spawn).
inline void spawn(task<void> t) { event_loop::current_or_throw().spawn(std::move(t)); }

}  // namespace coil
