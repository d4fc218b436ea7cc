#include "coil/runtime/event_loop.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <stdexcept>
#include <string>

#include "coil/runtime/backend/backend.hpp"
#include "coil/runtime/detail/buffer_pool.hpp"
#include "coil/runtime/backend/ops/dispatch.hpp"
#include "coil/runtime/log.hpp"

namespace coil {
namespace {

thread_local event_loop* this_thread_loop = nullptr;

void log_unhandled(std::exception_ptr error, const char* origin) noexcept {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        log(log_level::error, std::string("exception escaped ") + origin + ": " + e.what());
    } catch (...) {
        log(log_level::error, std::string("exception of unknown type escaped ") + origin);
    }
}

void ignore_sigpipe_by_default() noexcept {
    // A write to a pipe or socket whose reader is gone raises SIGPIPE, which kills the process by
    // default; I/O here reports EPIPE instead. An application's own SIGPIPE handler is kept.
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
        std::signal(SIGPIPE, SIG_IGN);
    }
}

}  // namespace

event_loop::event_loop(loop_options options)
    : recv_buffer_size_(options.recv_buffer_size),
      recv_buffer_count_(options.recv_buffer_count),
      recv_multishot_(options.recv_multishot) {
    if (this_thread_loop != nullptr) {
        throw std::logic_error(
            "coil::event_loop: this thread already has an event loop; use one loop per thread");
    }
    if (recv_buffer_size_ > (1u << 30) || recv_buffer_count_ == 0 ||
        recv_buffer_count_ > detail::buffer_pool::max_count) {
        throw std::invalid_argument(
            "coil::event_loop: loop_options::recv_buffer_size must be 1 .. 1 GiB (or 0: the "
            "backend's default) and recv_buffer_count 1 .. 32768");
    }
    ignore_sigpipe_by_default();
    detail::backend_choice choice = detail::make_backend(options.backend, ready_);
    backend_ = std::move(choice.chosen);
    kind_ = backend_->kind();
    reason_ = std::move(choice.reason);
    if (recv_buffer_size_ == 0) {
        // loop_options::recv_buffer_size says why they differ.
        recv_buffer_size_ = kind_ == backend_kind::epoll ? 16 * 1024 : 4 * 1024;
    }
    if (!options.wake_msg_ring) backend_->use_eventfd_wake();
    paused_ = options.paused_clock;
    if (paused_) manual_now_ = detail::clock::now();
    this_thread_loop = this;
}

event_loop::~event_loop() {
    // Spawned frames first: their awaiters' destructors need the backend to drain their I/O.
    detached_.destroy_all();
    ready_.clear();
    // Then the objects that outlive us: each drains what the backend still holds for it (an
    // armed multishot accept) and forgets this loop, so its destructor later touches neither.
    while (detail::loop_binding* b = bound_) {
        unbind(*b);
        b->on_loop_gone(*b);
    }
    backend_.reset();  // (unregisters the provided buffer ring)
    // Pooled buffers still held (by objects that outlive us) keep the pool's memory until dropped.
    if (recv_pool_ != nullptr) recv_pool_->owner_gone();
    this_thread_loop = nullptr;
}

event_loop* event_loop::current() noexcept { return this_thread_loop; }

std::string_view event_loop::wake_method() const noexcept { return backend_->wake_method(); }

event_loop& event_loop::current_or_throw() {
    if (this_thread_loop == nullptr) {
        throw std::logic_error(
            "coil: no event loop on this thread; run the task with coil::run(task) or "
            "coil::event_loop::run");
    }
    return *this_thread_loop;
}

void event_loop::spawn(task<void> t) {
    if (!t.valid()) throw std::logic_error("coil::spawn: empty task");
    detail::detached_task frame = detail::run_detached(std::move(t));
    detail::detached_promise& promise = frame.handle().promise();
    promise.bind(*this, nullptr);
    promise.cancel = spawn_scope_.token().state();
    detached_.insert(promise);
    schedule(frame.start_node());
}

void event_loop::set_unhandled_exception_handler(std::function<void(std::exception_ptr)> handler) {
    unhandled_ = std::move(handler);
}

void event_loop::report_unhandled(std::exception_ptr error, const char* origin) noexcept {
    if (unhandled_) {
        try {
            unhandled_(error);
            return;
        } catch (...) {
            log(log_level::error, "the unhandled-exception handler threw; falling back to the log");
        }
    }
    log_unhandled(error, origin);
}

void event_loop::post(std::function<void()> fn) {
    if (!fn) throw std::invalid_argument("coil::event_loop::post: empty function");
    {
        std::lock_guard lock(posted_mutex_);
        posted_.push_back(std::move(fn));
    }
    // One wake per batch: whoever raises the flag wakes the loop; posts that find it raised are
    // drained by the run_posted that the earlier wake leads to. run_posted lowers the flag under
    // the lock as it takes the queue, so a post queued after that take sees it lowered and wakes.
    if (!has_posted_.exchange(true, std::memory_order_acq_rel)) backend_->wake();
}

bool event_loop::start_io(detail::io_op& op) noexcept {
    // An empty buffer completes at once with 0 bytes, on both backends, whatever the fd's state:
    // a recv(2) of 0 bytes on an idle socket says EAGAIN, and waiting for data the caller has no
    // room for would wait forever. It counts as an inline completion (the caller's budget).
    // Not for the message ops (sendmsg/recvmsg): an empty datagram is a message of its own.
    const auto& traits = detail::ops::traits_of(op.code);
    if (op.len == 0 && traits.transfers_data && !traits.empty_is_a_message) {
        op.res = 0;
        return true;
    }
    return backend_->start(op);
}
void event_loop::cancel_io(detail::io_op& op) noexcept { backend_->cancel(op); }
void event_loop::abandon_io(detail::io_op& op) noexcept { backend_->abandon(op); }
void event_loop::cancel_fd_ops(int fd) noexcept { backend_->cancel_fd(fd); }
void event_loop::register_fd(int fd) noexcept { backend_->register_fd(fd); }
bool event_loop::supports_multishot_accept() const noexcept { return backend_->supports_multishot_accept(); }
void event_loop::fd_closing(int fd) noexcept { backend_->forget_fd(fd); }
std::size_t event_loop::io_in_flight() const noexcept { return backend_->in_flight(); }
std::size_t event_loop::pool_buffers_in_use() const noexcept {
    return recv_pool_ ? recv_pool_->in_use() : 0;
}
detail::buffer_pool* event_loop::recv_pool() noexcept {
    if (recv_pool_ == nullptr) {
        recv_pool_ = detail::buffer_pool::create(recv_buffer_size_, recv_buffer_count_);
        if (recv_pool_ != nullptr && recv_multishot_) recv_pool_fed_ = backend_->feed_buffer_pool(*recv_pool_);
    }
    return recv_pool_;
}
bool event_loop::supports_multishot_recv() const noexcept {
    return recv_pool_fed_ && backend_->supports_multishot_recv();
}

loop_stats event_loop::stats() const noexcept {
    loop_stats s = backend_->stats();
    s.ops_in_flight = backend_->in_flight();
    s.tasks_alive = detached_.size();
    s.timers_armed = timers_.size();
    s.pool_buffers_in_use = pool_buffers_in_use();
    return s;
}

void event_loop::advance(detail::clock::duration d) {
    if (!paused_) {
        throw std::logic_error(
            "coil::event_loop::advance: the clock is not paused; make the loop with "
            "loop_options::paused_clock = true");
    }
    if (d < detail::clock::duration::zero()) {
        throw std::invalid_argument("coil::event_loop::advance: the clock cannot go back");
    }
    manual_now_ = detail::saturating_add(manual_now_, d);
}

void event_loop::bind(detail::loop_binding& b) noexcept {
    b.prev = nullptr;
    b.next = bound_;
    if (bound_) bound_->prev = &b;
    bound_ = &b;
    b.bound = true;
}

void event_loop::unbind(detail::loop_binding& b) noexcept {
    if (!b.bound) return;
    if (b.prev) b.prev->next = b.next; else bound_ = b.next;
    if (b.next) b.next->prev = b.prev;
    b.prev = b.next = nullptr;
    b.bound = false;
}

void event_loop::run_until(const bool& done) {
    if (running_) throw std::logic_error("coil::event_loop::run is not reentrant");
    running_ = true;
    struct reset_running {
        bool& flag;
        ~reset_running() { flag = false; }
    } reset{running_};

    while (!done) {
        run_ready_batch();
        if (done) break;
        wait_for_work();
    }
}

void event_loop::run_ready_batch() {
    // Only what is ready now: work made ready by this batch waits for the next turn, so I/O and
    // timers are polled between turns however busy the tasks are.
    detail::ready_queue batch;
    batch.splice_back(ready_);
    while (detail::ready_node* node = batch.pop_front()) {
        inline_budget_ = inline_budget_per_resume;
        if (node->run != nullptr) {
            node->run(*node);
        } else {
            node->handle.resume();
        }
    }
}

void event_loop::fire_due_timers() {
    if (timers_.empty()) return;
    const auto current_time = now();
    while (detail::timer_node* timer = timers_.top()) {
        if (timer->deadline > current_time) break;
        timers_.remove(*timer);
        timer->fire(*timer);
    }
}

void event_loop::run_posted() {
    if (!has_posted_.load(std::memory_order_acquire)) return;
    std::vector<std::function<void()>> work;
    {
        std::lock_guard lock(posted_mutex_);
        work.swap(posted_);
        has_posted_.store(false, std::memory_order_relaxed);
    }
    // One function's exception must not drop the others taken with it (a thread pool's
    // completion among them would leave its task waiting forever): it goes where a spawned
    // task's would.
    for (auto& fn : work) {
        try {
            fn();
        } catch (...) {
            report_unhandled(std::current_exception(), "a posted function");
        }
    }
}

void event_loop::wait_for_work() {
    fire_due_timers();
    run_posted();
    std::optional<std::chrono::nanoseconds> timeout;
    // Work posted while the drain ran may have had its wake reaped already (posted work that
    // destroys a task with I/O in flight reaps in abandon()'s wait), and posts coalesce to one
    // wake per drain: never wait in the kernel with the flag raised. Once it is seen lowered
    // here, a later post's wake is still ahead of us (nothing reaps between here and the wait).
    if (!ready_.empty() || has_posted_.load(std::memory_order_acquire)) {
        timeout = std::chrono::nanoseconds::zero();
    } else if (detail::timer_node* next = timers_.top()) {
        if (!paused_) {
            timeout = detail::time_until(next->deadline, now());
        } else if (external_.load() == 0) {
            auto_advance(*next);
            return;
        }
        // Paused, with external work pending: wait for it without a time limit (a post wakes us).
    } else if (backend_->in_flight() == 0 && external_.load() == 0 &&
               !has_posted_.load(std::memory_order_acquire)) {
        throw std::logic_error(
            "coil::event_loop::run: the task can never finish: it is waiting, but no I/O is in "
            "flight, no timer is armed and nothing can post to this loop");
    }
    backend_->poll(timeout);
    fire_due_timers();
    run_posted();
}

void event_loop::auto_advance(const detail::timer_node& next) {
    // The manual clock moves only when nothing else could happen first: I/O that is ready now
    // (a zero-timeout poll) and posts come before the jump to the next deadline.
    const detail::clock::time_point deadline = next.deadline;
    backend_->poll(std::chrono::nanoseconds::zero());
    if (ready_.empty() && !has_posted_.load(std::memory_order_acquire)) {
        manual_now_ = std::max(manual_now_, deadline);
    }
    fire_due_timers();
    run_posted();
}

namespace detail {

void detached_promise::final_awaiter::await_suspend(
    std::coroutine_handle<detached_promise> self) const noexcept {
    detached_promise& p = self.promise();
    if (p.done_ != nullptr) {
        *p.done_ = true;
    } else {
        p.loop_->detached_finished(p);
    }
    self.destroy();
}

void detached_promise::unhandled_exception() noexcept {
    loop_->report_unhandled(std::current_exception());
}

}  // namespace detail
}  // namespace coil
