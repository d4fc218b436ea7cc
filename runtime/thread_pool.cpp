#include "coil/runtime/thread_pool.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>

namespace coil {

namespace detail {

// An intrusive FIFO of jobs (the pool's mutex guards it): O(1) removal of a withdrawn job.
class job_list {
public:
    [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    void push_back(pool_job& job) noexcept {
        job.prev = tail_;
        job.next = nullptr;
        if (tail_) tail_->next = &job; else head_ = &job;
        tail_ = &job;
        ++size_;
    }
    pool_job* pop_front() noexcept {
        pool_job* job = head_;
        if (job) remove(*job);
        return job;
    }
    void remove(pool_job& job) noexcept {
        if (job.prev) job.prev->next = job.next; else head_ = job.next;
        if (job.next) job.next->prev = job.prev; else tail_ = job.prev;
        job.prev = job.next = nullptr;
        --size_;
    }

private:
    pool_job* head_ = nullptr;
    pool_job* tail_ = nullptr;
    std::size_t size_ = 0;
};

// The pool's shared part. Jobs do not point at it; thread_pool and its workers hold it, so that a
// withdraw() racing the pool's destruction still finds a live mutex (see thread_pool::withdraw).
struct pool_core {
    mutable std::mutex mutex;
    std::condition_variable work_ready;
    job_list queued;
    job_list waiting;
    job_list running;
    std::size_t capacity = 1;
    bool stopping = false;
    // Held by the stop() that joins the threads: std::thread::join and detach on one thread object
    // from two callers at once is undefined (glibc's second pthread_join fails with EINVAL).
    std::mutex joining;

    // A slot came free: the longest waiter takes it.
    void admit_waiting() noexcept {
        while (queued.size() < capacity) {
            pool_job* job = waiting.pop_front();
            if (job == nullptr) return;
            job->state = pool_job::status::queued;
            queued.push_back(*job);
        }
    }
};

void pool_job::deliver() noexcept {
    std::lock_guard lock(deliver_mutex_);
    if (loop_ == nullptr) return;  // the awaiter let go: the outcome is discarded with the job
    add_ref();
    struct ref {
        pool_job* job;
        explicit ref(pool_job* j) noexcept : job(j) {}
        ref(const ref& other) noexcept : job(other.job) { job->add_ref(); }
        ref& operator=(const ref&) = delete;
        ~ref() { job->release(); }
    };
    event_loop* loop = loop_;
    // Allocation failure here (std::function, the post vector) has no one to report to: terminate.
    loop->post([loop, r = ref(this)] { on_delivered(*loop, *r.job); });
}

void pool_job::on_delivered(event_loop& loop, pool_job& job) noexcept {
    // Loop thread. Null: the awaiter was destroyed, or it was resumed already by a withdrawal.
    if (ready_node* waiter = std::exchange(job.waiter_, nullptr)) loop.schedule(*waiter);
}

namespace {

// The pool whose thread this is (null on other threads): stop() on one of its own threads must
// not wait for another stop() that may be joining this very thread.
thread_local const pool_core* worker_of = nullptr;

void worker_main(std::shared_ptr<pool_core> core, std::size_t index, std::optional<int> nice,
                 std::promise<int> started) {
    worker_of = core.get();
    // Signals belong to the threads that wait for them (signal_set), not to pool threads.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    char name[16];
    std::snprintf(name, sizeof name, "coil-pool-%zu", index);
    pthread_setname_np(pthread_self(), name);
    // PRIO_PROCESS with a thread id sets that thread's nice alone (Linux; setpriority(2) NOTES).
    int error = 0;
    if (nice && ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), *nice) != 0) error = errno;
    started.set_value(error);

    std::unique_lock lock(core->mutex);
    for (;;) {
        core->work_ready.wait(lock, [&] { return core->stopping || !core->queued.empty(); });
        pool_job* job = core->queued.pop_front();
        if (job == nullptr) return;  // stopping, and stop() took whatever was queued
        job->state = pool_job::status::running;
        core->running.push_back(*job);
        core->admit_waiting();
        lock.unlock();

        job->execute(job->stop.get_token());

        lock.lock();
        core->running.remove(*job);
        job->state = pool_job::status::done;
        lock.unlock();
        job->deliver();
        job->release();  // the pool's reference
        lock.lock();
    }
}

}  // namespace

}  // namespace detail

thread_pool::thread_pool(pool_options options)
    : core_(std::make_shared<detail::pool_core>()),
      thread_count_(options.threads != 0 ? options.threads
                                         : std::max(1u, std::thread::hardware_concurrency())),
      capacity_(std::max<std::size_t>(1, options.queue_capacity)) {
    if (options.nice && (*options.nice < -20 || *options.nice > 19)) {
        throw std::invalid_argument("coil::thread_pool: nice must be from -20 to 19");
    }
    core_->capacity = capacity_;
    workers_.reserve(thread_count_);
    try {
        std::vector<std::future<int>> started;
        started.reserve(thread_count_);
        for (std::size_t i = 0; i < thread_count_; ++i) {
            std::promise<int> p;
            started.push_back(p.get_future());
            workers_.emplace_back(detail::worker_main, core_, i, options.nice, std::move(p));
        }
        // Every thread reports whether its nice took, so that a pool that could not get the
        // priority it was asked for is an error here rather than a silent difference later.
        int error = 0;
        for (auto& f : started) error = error != 0 ? error : f.get();
        if (error != 0) {
            throw std::system_error(error, std::generic_category(),
                                    "coil::thread_pool: setpriority(" + std::to_string(*options.nice) + ")");
        }
    } catch (...) {
        stop();
        throw;
    }
}

thread_pool::~thread_pool() { stop(); }

thread_pool& thread_pool::default_pool() {
    static thread_pool pool;
    return pool;
}

void thread_pool::stop() {
    detail::job_list cancelled;
    std::vector<detail::pool_job*> running;
    {
        std::lock_guard lock(core_->mutex);
        core_->stopping = true;
        // Marked done under the lock, so that a racing withdrawal leaves them alone.
        for (detail::job_list* list : {&core_->queued, &core_->waiting}) {
            while (detail::pool_job* job = list->pop_front()) {
                job->state = detail::pool_job::status::done;
                job->cancelled = true;
                cancelled.push_back(*job);
            }
        }
        running.reserve(core_->running.size());
        for (detail::pool_job* job = nullptr; (job = core_->running.pop_front()) != nullptr;) {
            running.push_back(job);
        }
        // Put them back: the workers remove their own job when it finishes.
        for (detail::pool_job* job : running) {
            core_->running.push_back(*job);
            job->add_ref();
        }
    }
    core_->work_ready.notify_all();
    // Outside the lock: a stop callback fn registered may do anything, and so may a delivery.
    for (detail::pool_job* job : running) {
        job->stop.request_stop();
        job->release();
    }
    while (detail::pool_job* job = cancelled.pop_front()) {
        job->deliver();
        job->release();  // the pool's reference
    }
    // One caller joins at a time; a later one finds the threads joined already. A pool thread
    // that finds another caller joining returns at once: that caller may be joining this thread,
    // which ends once its job returns.
    std::unique_lock joining(core_->joining, std::defer_lock);
    if (detail::worker_of == core_.get()) {
        if (!joining.try_lock()) return;
    } else {
        joining.lock();
    }
    const auto self = std::this_thread::get_id();
    for (std::thread& t : workers_) {
        if (!t.joinable()) continue;
        if (t.get_id() == self) {
            t.detach();  // stop() from inside a job: that worker ends once the job returns
        } else {
            t.join();
        }
    }
}

std::size_t thread_pool::queued() const {
    std::lock_guard lock(core_->mutex);
    return core_->queued.size();
}
std::size_t thread_pool::waiting() const {
    std::lock_guard lock(core_->mutex);
    return core_->waiting.size();
}
std::size_t thread_pool::running() const {
    std::lock_guard lock(core_->mutex);
    return core_->running.size();
}

namespace detail {

bool pool_submit(pool_core& pool, pool_job& job) {
    {
        std::lock_guard lock(pool.mutex);
        if (pool.stopping) return false;
        job.add_ref();  // the pool's
        if (pool.queued.size() < pool.capacity) {
            job.state = pool_job::status::queued;
            pool.queued.push_back(job);
        } else {
            job.state = pool_job::status::waiting;
            pool.waiting.push_back(job);
            return true;  // no new work for the threads: they admit it when room frees up
        }
    }
    pool.work_ready.notify_one();
    return true;
}

bool pool_withdraw(pool_core& pool, pool_job& job) noexcept {
    {
        std::lock_guard lock(pool.mutex);
        switch (job.state) {
        case pool_job::status::queued:
            pool.queued.remove(job);
            pool.admit_waiting();
            break;
        case pool_job::status::waiting:
            pool.waiting.remove(job);
            break;
        default:
            return false;  // running, done (delivered or about to be), or never submitted
        }
        job.state = pool_job::status::withdrawn;
    }
    job.release();  // the pool's reference; the caller still holds its own
    return true;
}

}  // namespace detail

}  // namespace coil
