#include "coil/runtime/loop_group.hpp"

#include <pthread.h>
#include <sched.h>

#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "coil/runtime/cancel.hpp"
#include "coil/runtime/log.hpp"
#include "coil/runtime/sync/event.hpp"

namespace coil {

struct loop_group::slot {
    event_loop* loop = nullptr;          // guarded by shared::mutex; null before start and once it ends
    cancel_source* source = nullptr;     // the entry task's; used on the loop's thread only
    std::exception_ptr start_error;      // pinning or the loop's constructor failed
    std::exception_ptr error;            // the entry task threw
};

struct loop_group::shared {
    loop_group_options options;
    entry_function entry;
    std::vector<std::unique_ptr<slot>> slots;

    std::mutex mutex;
    std::condition_variable changed;
    std::size_t started = 0;  // threads that made their loop (or failed to)
    bool decided = false;     // the constructor has said whether to go on
    bool go = false;
    bool stop_requested = false;

    std::atomic<std::size_t> running{0};  // entry tasks not finished
    event all_done;                         // set by the last entry task to finish

    void request_stop() noexcept {
        std::lock_guard lock(mutex);
        stop_requested = true;
        for (auto& s : slots) {
            if (s->loop == nullptr) continue;
            // The source and the spawn scope belong to the loop's thread: cancel there. A post
            // made before run() starts is kept and runs in its first turn.
            try {
                s->loop->post([sl = s.get()] {
                    if (sl->source != nullptr) sl->source->request_cancel();
                    sl->loop->cancel_spawned();
                });
            } catch (...) {
                log(log_level::error, "coil::loop_group: cannot post the stop request (out of memory)");
            }
        }
    }
};

namespace {

void pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<std::size_t>(cpu), &set);
    const int rc = ::pthread_setaffinity_np(::pthread_self(), sizeof(set), &set);
    if (rc != 0) {
        throw std::system_error(rc, std::generic_category(),
                                "coil::loop_group: cannot pin a loop thread to CPU " + std::to_string(cpu));
    }
}

}  // namespace

namespace {

task<void> run_entry(loop_group::entry_function& entry, std::size_t index, cancel_source& source,
                     std::exception_ptr& error, bool& failed) {
    try {
        task<void> t = entry(index);
        t.set_cancel_token(source.token());
        co_await std::move(t);
    } catch (...) {
        error = std::current_exception();
        failed = true;
    }
}

}  // namespace

task<void> loop_group::loop_body(shared& st, std::size_t index, slot& s, cancel_source& source) {
    bool failed = false;
    co_await run_entry(st.entry, index, source, s.error, failed);
    if (failed) st.request_stop();
    if (st.running.fetch_sub(1) == 1) st.all_done.set();
    // Stay up for hand-offs from the other loops until every entry task is done.
    (void)co_await st.all_done.wait();
}

void loop_group::thread_main(std::shared_ptr<shared> state, std::size_t index) {
    shared& st = *state;
    slot& s = *st.slots[index];
    // Declared before the loop: the loop (and any spawned task still holding its token) goes first.
    cancel_source source;
    std::optional<event_loop> loop;
    try {
        if (!st.options.cpus.empty()) pin_to(st.options.cpus[index % st.options.cpus.size()]);
        loop.emplace(st.options.loop);
    } catch (...) {
        s.start_error = std::current_exception();
    }
    {
        std::unique_lock lock(st.mutex);
        s.source = &source;
        s.loop = loop ? &*loop : nullptr;
        ++st.started;
        st.changed.notify_all();
        st.changed.wait(lock, [&] { return st.decided; });
        if (!st.go) {
            s.loop = nullptr;
            return;
        }
    }
    {
        // A peer may post to this loop (switch_to, a stop request) at any time.
        event_loop::external_work peers(*loop);
        try {
            loop->run(loop_body(st, index, s, source));
        } catch (...) {
            // Only the loop machinery can throw here (entry exceptions are caught in body).
            if (!s.error) s.error = std::current_exception();
        }
    }
    std::lock_guard lock(st.mutex);
    s.loop = nullptr;
}

loop_group::loop_group(loop_group_options options, entry_function entry) : state_(std::make_shared<shared>()) {
    if (options.threads == 0) throw std::invalid_argument("coil::loop_group: threads must be at least 1");
    if (!entry) throw std::invalid_argument("coil::loop_group: no entry function");
    for (int cpu : options.cpus) {
        if (cpu < 0 || cpu >= CPU_SETSIZE) {
            throw std::invalid_argument("coil::loop_group: CPU " + std::to_string(cpu) + " is out of range 0.." +
                                        std::to_string(CPU_SETSIZE - 1));
        }
    }
    const std::size_t n = options.threads;
    state_->options = std::move(options);
    state_->entry = std::move(entry);
    state_->running = n;
    for (std::size_t i = 0; i < n; ++i) {
        state_->slots.push_back(std::make_unique<slot>());
        slots_.push_back(state_->slots.back().get());
    }
    std::exception_ptr failure;
    try {
        threads_.reserve(n);
        for (std::size_t i = 0; i < n; ++i) threads_.emplace_back(thread_main, state_, i);
    } catch (...) {
        failure = std::current_exception();
    }
    {
        std::unique_lock lock(state_->mutex);
        state_->changed.wait(lock, [&] { return state_->started == threads_.size(); });
        for (slot* s : slots_) {
            if (!failure && s->start_error) failure = s->start_error;
        }
        state_->decided = true;
        state_->go = !failure;
        state_->changed.notify_all();
    }
    if (failure) {
        for (auto& t : threads_) t.join();
        threads_.clear();
        std::rethrow_exception(failure);
    }
}

loop_group::~loop_group() {
    try {
        stop();
    } catch (const std::exception& e) {
        log(log_level::error, std::string("coil::loop_group: an entry task failed: ") + e.what());
    } catch (...) {
        log(log_level::error, "coil::loop_group: an entry task failed with a non-standard exception");
    }
}

event_loop& loop_group::loop(std::size_t index) const {
    if (index >= slots_.size()) throw std::out_of_range("coil::loop_group::loop: no such loop");
    std::lock_guard lock(state_->mutex);
    event_loop* l = slots_[index]->loop;
    if (l == nullptr) throw std::logic_error("coil::loop_group::loop: that loop has ended");
    return *l;
}

void loop_group::request_stop() noexcept { state_->request_stop(); }

void loop_group::join() {
    for (auto& t : threads_) {
        if (t.joinable()) t.join();
    }
    std::exception_ptr first;
    for (slot* s : slots_) {
        if (!s->error) continue;
        if (!first) {
            first = std::exchange(s->error, nullptr);
            continue;
        }
        try {
            std::rethrow_exception(std::exchange(s->error, nullptr));
        } catch (const std::exception& e) {
            log(log_level::error, std::string("coil::loop_group: another entry task failed too: ") + e.what());
        } catch (...) {
            log(log_level::error, "coil::loop_group: another entry task failed too (non-standard exception)");
        }
    }
    if (first) std::rethrow_exception(first);
}

}  // namespace coil
