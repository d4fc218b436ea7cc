#pragma once
// coil::task<T>: a lazy, move-only coroutine that produces one T (or throws).
//
// Result: co_await yields the value of co_return, or rethrows the exception that escaped the body.
// Laziness: the body starts only when the task is awaited (or handed to run/spawn/a group).
// Lifetime: the task object owns the frame. Destroying a task that never ran destroys its frame
// and arguments; destroying one that is suspended in I/O first cancels and drains that I/O (see
// docs/lifetimes.md), so the kernel never writes into a freed frame. A task started by co_await
// lives no longer than the await: if the awaiting task is destroyed mid-await, the awaited one is
// destroyed too, also when it is an lvalue owned elsewhere (that task object is then empty).
// Cancellation: awaiting a task hands the awaiting task's cancel token down to it. A task given a
// token of its own (set_cancel_token) runs under both that token and the one of whoever starts it
// (the awaiter, or the combinator or spawner it was handed to): it is cancelled when either is.
// See "A child's token" in cancel.hpp for what each combinator and spawner hands down.
// Threading: a task runs on the thread of the event loop that drives it.
// Stack: awaiting starts the child in place; a child that finishes without suspending lets the
// parent continue without suspending at all, and a child that did suspend resumes its parent by
// symmetric transfer at final suspend. So a loop of synchronously completing awaits runs in
// constant stack on every compiler, also where the symmetric-transfer tail call is not emitted
// (GCC 12 emits it only at -O2 without sanitizers).

#include <cassert>
#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "coil/runtime/cancel.hpp"

namespace coil {

template <class T = void>
class task;

namespace detail {

/// Where a suspended task::awaiter keeps the address of the task object that holds the frame it
/// started (null once that object let go of the frame); the frame's promise points at it, so that
/// moving or destroying the task object keeps it true. See task::awaiter.
struct await_link {
    void* owner = nullptr;
};

/// Every coil promise carries the cancel token of the scope it runs in.
struct cancel_carrier {
    cancel_state* cancel = nullptr;
};

/// The cancel state of whatever coroutine `h` is, or null for foreign coroutine types.
template <class P>
cancel_state* cancel_state_of(std::coroutine_handle<P> h) noexcept {
    if constexpr (std::is_base_of_v<cancel_carrier, P>) {
        return h.promise().cancel;
    } else {
        return nullptr;
    }
}

class task_promise_base : public cancel_carrier {
public:
    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> self) noexcept {
            task_promise_base& p = self.promise();
            // Finished: stop following the own and the starter's token, so that their sources
            // may go away while this frame is kept for its result.
            if (p.own_scope_) p.own_scope_->leave();
            // If the awaiter has not suspended yet (we finished inside its await_suspend), it
            // sees done() and carries on by itself.
            return p.awaiter_suspended_ ? p.continuation_ : std::noop_coroutine();
        }
        void await_resume() const noexcept {}
    };

    std::suspend_always initial_suspend() const noexcept { return {}; }
    final_awaiter final_suspend() const noexcept { return {}; }
    void unhandled_exception() noexcept { exception_ = std::current_exception(); }

    /// For awaiters that start the task by symmetric transfer and are suspended meanwhile.
    void set_continuation(std::coroutine_handle<> c) noexcept {
        continuation_ = c;
        awaiter_suspended_ = true;
    }
    /// For awaiters that start the task with resume() from inside their await_suspend: the
    /// continuation is only used once mark_awaiter_suspended() said the awaiter did suspend.
    void set_pending_continuation(std::coroutine_handle<> c) noexcept { continuation_ = c; }
    void mark_awaiter_suspended() noexcept { awaiter_suspended_ = true; }

    /// The suspended task::awaiter that started this frame, if any (see await_link).
    await_link* awaiter_link = nullptr;

    /// The task's own token (set_cancel_token); null: none. Before the task starts only.
    /// Allocates the combined scope the task may need later, so that starting never allocates.
    void set_own_cancel(cancel_state* own) {
        assert(!scope_entered_ && "set_cancel_token after the task was started");
        if (own == nullptr) {
            own_scope_.reset();
        } else if (own_scope_) {
            own_scope_->set_own(own);
        } else {
            own_scope_ = std::make_unique<cancel_join>(own);
        }
        cancel = own;
    }

    /// Puts the task under the token of whoever starts it (`starter`, may be null), combined with
    /// its own token if it has one. Only the first call counts: a combinator that hands its scope
    /// down and then awaits the task does not add its own token a second time.
    void enter_cancel_scope(cancel_state* starter) noexcept {
        if (scope_entered_) return;
        scope_entered_ = true;
        if (starter == nullptr || starter == cancel) return;  // nothing to add
        if (cancel == nullptr) {
            cancel = starter;  // the plain path: no token of its own, nothing allocated
            return;
        }
        assert(own_scope_ && own_scope_->own() == cancel);
        cancel = own_scope_->enter(starter);
    }

protected:
    void rethrow_if_failed() const {
        if (exception_) std::rethrow_exception(exception_);
    }

private:
    std::coroutine_handle<> continuation_;
    std::exception_ptr exception_;
    std::unique_ptr<cancel_join> own_scope_;  // only for a task with a token of its own
    bool awaiter_suspended_ = false;
    bool scope_entered_ = false;
};

template <class T>
class task_promise final : public task_promise_base {
public:
    task<T> get_return_object() noexcept;

    template <class U>
        requires std::is_convertible_v<U&&, T>
    void return_value(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        value_.emplace(std::forward<U>(value));
    }

    T take_result() {
        rethrow_if_failed();
        assert(value_.has_value());
        return std::move(*value_);
    }

private:
    std::optional<T> value_;
};

template <>
class task_promise<void> final : public task_promise_base {
public:
    task<void> get_return_object() noexcept;
    void return_void() noexcept {}
    void take_result() const { rethrow_if_failed(); }
};

}  // namespace detail

template <class T>
class [[nodiscard]] task {
public:
    using promise_type = detail::task_promise<T>;
    using handle_type = std::coroutine_handle<promise_type>;
    using value_type = T;

    task() noexcept = default;
    explicit task(handle_type h) noexcept : handle_(h) {}
    task(task&& other) noexcept : handle_(std::exchange(other.handle_, {})) { relink(); }
    task& operator=(task&& other) noexcept {
        if (this != &other) {
            reset();
            handle_ = std::exchange(other.handle_, {});
            relink();
        }
        return *this;
    }
    task(const task&) = delete;
    task& operator=(const task&) = delete;
    ~task() { reset(); }

    /// False for a default-constructed or moved-from task.
    [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(handle_); }
    /// True once the body has finished (returned or thrown).
    [[nodiscard]] bool done() const noexcept { return handle_ && handle_.done(); }

    /// Gives the task a token of its own. It then runs under this token AND the token of whoever
    /// starts it (awaiter, combinator, group, spawn; none for run()): it is cancelled as soon as
    /// either is. An empty token removes a token set before. Call before the task starts; the
    /// source must outlive the task's run (not the task object: a finished task follows no
    /// token). Allocates the task's combined scope once; throws std::bad_alloc if that fails.
    void set_cancel_token(cancel_token token) {
        assert(handle_);
        handle_.promise().set_own_cancel(token.state());
    }
    /// For combinators and spawners: starts the task's cancel scope under `token` (combined with
    /// the task's own token, if any). The first call or await counts; later awaits add nothing.
    void inherit_cancel_token(cancel_token token) noexcept {
        assert(handle_);
        handle_.promise().enter_cancel_scope(token.state());
    }

    class awaiter {
    public:
        explicit awaiter(task& owner) noexcept : handle_(owner.handle_) { link_.owner = &owner; }
        awaiter(const awaiter&) = delete;
        awaiter& operator=(const awaiter&) = delete;
        // The awaiting frame is destroyed while the task it started is still suspended: that
        // task must not outlive it (it would resume the freed frame, and its operations hang in
        // the freed frame's cancel scope), so it is destroyed here, its I/O drained, and the task
        // object that holds it (maybe outside the frame: an lvalue, or std::move of one) is left
        // empty. A temporary task would be destroyed right after anyway. If that object already
        // let go of the frame (destroyed first), there is nothing left to do.
        ~awaiter() {
            if (!suspended_ || link_.owner == nullptr) return;
            handle_.promise().awaiter_link = nullptr;
            if (!handle_.done()) static_cast<task*>(link_.owner)->reset();
        }
        bool await_ready() const {
            if (!handle_) throw std::logic_error("coil::task: co_await on an empty (moved-from) task");
            return handle_.done();
        }
        template <class P>
        bool await_suspend(std::coroutine_handle<P> parent) noexcept {
            promise_type& child = handle_.promise();
            child.set_pending_continuation(parent);
            child.enter_cancel_scope(detail::cancel_state_of(parent));
            handle_.resume();                     // runs until its first suspension or its end
            if (handle_.done()) return false;     // finished synchronously: don't suspend
            child.mark_awaiter_suspended();       // it will resume us from its final suspend
            suspended_ = true;
            child.awaiter_link = &link_;
            return true;
        }
        T await_resume() {
            if (suspended_) {
                suspended_ = false;
                handle_.promise().awaiter_link = nullptr;
            }
            return handle_.promise().take_result();
        }

    private:
        handle_type handle_;
        detail::await_link link_;
        bool suspended_ = false;
    };

    awaiter operator co_await() && noexcept { return awaiter(*this); }
    awaiter operator co_await() & noexcept { return awaiter(*this); }

    /// The value after the task finished; rethrows its exception. For drivers (run, groups).
    T take_result() {
        assert(done());
        return handle_.promise().take_result();
    }
    [[nodiscard]] handle_type handle() const noexcept { return handle_; }

private:
    void reset() noexcept {
        if (!handle_) return;
        const handle_type h = std::exchange(handle_, {});
        if (detail::await_link* link = h.promise().awaiter_link) link->owner = nullptr;
        h.destroy();
    }
    // A suspended awaiter of this frame follows the object that holds it.
    void relink() noexcept {
        if (handle_) {
            if (detail::await_link* link = handle_.promise().awaiter_link) link->owner = this;
        }
    }

    handle_type handle_;
};

namespace detail {

template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
    return task<T>(std::coroutine_handle<task_promise<T>>::from_promise(*this));
}

inline task<void> task_promise<void>::get_return_object() noexcept {
    return task<void>(std::coroutine_handle<task_promise<void>>::from_promise(*this));
}

}  // namespace detail

namespace detail {
class cancel_token_awaiter {
public:
    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> self) noexcept {
        token_ = cancel_token(cancel_state_of(self));
        return false;  // never actually suspends
    }
    cancel_token await_resume() const noexcept { return token_; }

private:
    cancel_token token_;
};
}  // namespace detail

/// `co_await current_cancel_token()` yields the cancel token of the calling task, without
/// suspending. Poll it in long CPU loops, or pass it to a cancel_callback.
inline detail::cancel_token_awaiter current_cancel_token() noexcept { return {}; }

}  // namespace coil
