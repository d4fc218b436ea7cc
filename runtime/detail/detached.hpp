#pragma once
// Root coroutine frames that nobody awaits: the frame behind event_loop::spawn and the driver of
// event_loop::run. Once started, such a frame owns itself and is destroyed when it finishes; the
// loop keeps spawned ones in an intrusive list so that it can destroy those still running when
// the loop itself is destroyed.

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <utility>

#include "coil/runtime/detail/ready_queue.hpp"
#include "coil/runtime/task.hpp"

namespace coil {
class event_loop;
}

namespace coil::detail {

class detached_promise;

class detached_task {
public:
    using promise_type = detached_promise;
    using handle_type = std::coroutine_handle<detached_promise>;

    explicit detached_task(handle_type h) noexcept : handle_(h) {}
    detached_task(detached_task&& other) noexcept
        : handle_(std::exchange(other.handle_, {})), started_(other.started_) {}
    detached_task& operator=(detached_task&&) = delete;
    ~detached_task() {
        if (handle_ && !started_) handle_.destroy();
    }

    [[nodiscard]] handle_type handle() const noexcept { return handle_; }
    /// The node that starts the frame when the loop runs it. After this the frame owns itself.
    ready_node& start_node() noexcept;
    /// Destroys a started frame that has not finished (only its owner may know it has not).
    void destroy() noexcept {
        if (handle_) std::exchange(handle_, {}).destroy();
    }

private:
    handle_type handle_;
    bool started_ = false;
};

class detached_promise : public cancel_carrier {
public:
    detached_promise() = default;
    detached_promise(const detached_promise&) = delete;
    detached_promise& operator=(const detached_promise&) = delete;
    ~detached_promise() { start.unlink(); }

    detached_task get_return_object() noexcept {
        return detached_task(detached_task::handle_type::from_promise(*this));
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }

    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<detached_promise> self) const noexcept;
        void await_resume() const noexcept {}
    };
    final_awaiter final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    void unhandled_exception() noexcept;

    /// `done` (may be null) is set when the frame finishes; for run()'s root.
    void bind(event_loop& loop, bool* done) noexcept {
        loop_ = &loop;
        done_ = done;
    }

    // Intrusive links for detached_list, and the node that first resumes the frame.
    detached_promise* prev = nullptr;
    detached_promise* next = nullptr;
    ready_node start;

private:
    event_loop* loop_ = nullptr;
    bool* done_ = nullptr;
};

inline ready_node& detached_task::start_node() noexcept {
    started_ = true;
    ready_node& node = handle_.promise().start;
    node.handle = handle_;
    return node;
}

/// The spawned frames of one loop.
class detached_list {
public:
    detached_list() = default;
    detached_list(const detached_list&) = delete;
    detached_list& operator=(const detached_list&) = delete;

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    void insert(detached_promise& p) noexcept {
        p.prev = nullptr;
        p.next = head_;
        if (head_) head_->prev = &p;
        head_ = &p;
        ++size_;
    }
    void erase(detached_promise& p) noexcept {
        if (p.prev) p.prev->next = p.next; else head_ = p.next;
        if (p.next) p.next->prev = p.prev;
        p.prev = p.next = nullptr;
        --size_;
    }
    /// Destroys every frame still in the list (their destructors cancel and drain their I/O).
    void destroy_all() noexcept {
        while (head_) {
            detached_promise& p = *head_;
            erase(p);
            detached_task::handle_type::from_promise(p).destroy();
        }
    }

private:
    detached_promise* head_ = nullptr;
    std::size_t size_ = 0;
};

/// Awaits a task's completion without taking its result (the owner takes it afterwards).
template <class T>
class finished_awaiter {
public:
    explicit finished_awaiter(task<T>& t) noexcept : task_(t) {}
    bool await_ready() const noexcept { return task_.done(); }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> self) noexcept {
        task_.handle().promise().set_continuation(self);
        return task_.handle();
    }
    void await_resume() const noexcept {}

private:
    task<T>& task_;
};

template <class T>
detached_task run_to_completion(task<T>& t) {
    co_await finished_awaiter<T>(t);
}

inline detached_task run_detached(task<void> t) { co_await std::move(t); }

}  // namespace coil::detail
