#pragma once
// Cancellation: a request that travels from a cancel_source to whatever its tokens reach.
//
// A task carries a cancel_token; awaiting a child task hands the same token down, so a request
// reaches the I/O operation at the bottom of the chain, which then asks its backend to cancel
// (io_uring: ASYNC_CANCEL; epoll: drop the wait). Cancellation is a request: the operation still
// completes exactly once, with operation_canceled or, if it won the race, with its real result.
//
// A child's token. Whoever starts a child task gives it a token: a plain co_await and when_all
// give the awaiting task's token; when_any, with_timeout and task_group give their own scope
// (which follows the caller's or the group's parent token); event_loop::spawn / coil::spawn give
// the loop's spawn scope (cancel_spawned()); run() gives none. A task that was given a token of
// its own with task::set_cancel_token runs under BOTH: it is cancelled when its own token or the
// starter's token is cancelled, whichever comes first. Nothing removes the starter's token: a
// child cannot shield itself from its parent's cancellation. Where both tokens exist the task
// follows them through a combined scope owned by the task's frame (allocated by set_cancel_token,
// never on the plain path); the frame stops following both when its body finishes, so either
// source may be destroyed once the task is done, also if the task object lives on.
//
// Threading: single-threaded. A source, its tokens and callbacks belong to one event loop's thread.
// Lifetime: a source must outlive its tokens' use; callbacks unregister in their destructors.

#include <cassert>
#include <utility>

namespace coil {

namespace detail {

// A registered callback: an intrusive list node with a plain function pointer (no allocation).
struct cancel_link {
    cancel_link* prev = nullptr;
    cancel_link* next = nullptr;
    void (*on_cancel)(cancel_link&) noexcept = nullptr;

    [[nodiscard]] bool linked() const noexcept { return prev != nullptr; }
};

class cancel_state {
public:
    cancel_state() noexcept { head_.prev = head_.next = &head_; }
    cancel_state(const cancel_state&) = delete;
    cancel_state& operator=(const cancel_state&) = delete;
    ~cancel_state() { assert(head_.next == &head_ && "a cancel callback outlived its source"); }

    [[nodiscard]] bool requested() const noexcept { return requested_; }

    /// Runs each callback once, in registration order; later registrations run at once.
    void request() noexcept {
        if (requested_) return;
        requested_ = true;
        while (head_.next != &head_) {
            cancel_link& link = *head_.next;
            unlink(link);
            link.on_cancel(link);
        }
    }

    /// Registers `link`; if cancellation was already requested, calls it now instead.
    void attach(cancel_link& link) noexcept {
        assert(!link.linked());
        if (requested_) {
            link.on_cancel(link);
            return;
        }
        link.prev = head_.prev;
        link.next = &head_;
        head_.prev->next = &link;
        head_.prev = &link;
    }

    static void unlink(cancel_link& link) noexcept {
        if (!link.linked()) return;
        link.prev->next = link.next;
        link.next->prev = link.prev;
        link.prev = link.next = nullptr;
    }

    /// Unlinks every callback without calling it, so that their later unlink() is a no-op. For a
    /// state that dies with a coroutine frame whose parameters (destroyed after the promise) may
    /// still hold linked awaiters.
    void detach_all() noexcept {
        while (head_.next != &head_) unlink(*head_.next);
    }

private:
    cancel_link head_;
    bool requested_ = false;
};

/// The combined scope of a task that has a token of its own and is started under another one:
/// cancelled when either is. Owned by the task's promise; see "A child's token" above.
class cancel_join {
public:
    explicit cancel_join(cancel_state* own) noexcept : own_(own) {
        from_own_.on_cancel = &forward;
        from_own_.self = this;
        from_starter_.on_cancel = &forward;
        from_starter_.self = this;
    }
    cancel_join(const cancel_join&) = delete;
    cancel_join& operator=(const cancel_join&) = delete;
    ~cancel_join() {
        leave();
        state_.detach_all();
    }

    [[nodiscard]] cancel_state* own() const noexcept { return own_; }
    void set_own(cancel_state* own) noexcept { own_ = own; }

    /// Starts following the own token and `starter`; returns the combined state to run under.
    cancel_state* enter(cancel_state* starter) noexcept {
        own_->attach(from_own_);
        starter->attach(from_starter_);
        return &state_;
    }
    /// Stops following both (the task has finished, or its frame is going away).
    void leave() noexcept {
        cancel_state::unlink(from_own_);
        cancel_state::unlink(from_starter_);
    }

private:
    struct link : cancel_link {
        cancel_join* self = nullptr;
    };
    static void forward(cancel_link& l) noexcept { static_cast<link&>(l).self->state_.request(); }

    cancel_state* own_;
    cancel_state state_;
    link from_own_;
    link from_starter_;
};

}  // namespace detail

/// A view of a cancel_source: may be empty (never cancelled). Cheap to copy.
class cancel_token {
public:
    cancel_token() noexcept = default;
    explicit cancel_token(detail::cancel_state* state) noexcept : state_(state) {}

    [[nodiscard]] bool cancel_requested() const noexcept { return state_ && state_->requested(); }
    [[nodiscard]] bool can_be_cancelled() const noexcept { return state_ != nullptr; }
    [[nodiscard]] detail::cancel_state* state() const noexcept { return state_; }

private:
    detail::cancel_state* state_ = nullptr;
};

/// Owns a cancellation scope. A source built from a parent token is cancelled when the parent is.
/// Not movable: tokens point at it.
class cancel_source {
public:
    cancel_source() noexcept = default;
    explicit cancel_source(cancel_token parent) noexcept { link_to(parent); }
    cancel_source(const cancel_source&) = delete;
    cancel_source& operator=(const cancel_source&) = delete;
    ~cancel_source() { detail::cancel_state::unlink(parent_link_); }

    void request_cancel() noexcept { state_.request(); }
    [[nodiscard]] bool cancel_requested() const noexcept { return state_.requested(); }
    [[nodiscard]] cancel_token token() noexcept { return cancel_token(&state_); }

    /// Makes this source follow `parent` as well (at most one parent at a time).
    void link_to(cancel_token parent) noexcept {
        detail::cancel_state::unlink(parent_link_);
        if (parent.state()) parent.state()->attach(parent_link_);
    }

private:
    struct parent_link : detail::cancel_link {
        cancel_source* self = nullptr;
    };
    static void forward(detail::cancel_link& link) noexcept {
        static_cast<parent_link&>(link).self->request_cancel();
    }
    parent_link make_parent_link() noexcept {
        parent_link l;
        l.on_cancel = &cancel_source::forward;
        l.self = this;
        return l;
    }

    detail::cancel_state state_;
    parent_link parent_link_ = make_parent_link();
};

/// Calls `fn()` once if the token is cancelled while this object lives (at once if it already
/// was). For user code; the runtime's awaiters use detail::cancel_link directly.
template <class Fn>
class cancel_callback {
public:
    cancel_callback(cancel_token token, Fn fn) : hook_(std::move(fn)) {
        hook_.on_cancel = &invoke;
        if (token.state()) token.state()->attach(hook_);
    }
    cancel_callback(const cancel_callback&) = delete;
    cancel_callback& operator=(const cancel_callback&) = delete;
    ~cancel_callback() { detail::cancel_state::unlink(hook_); }

private:
    struct hook : detail::cancel_link {
        explicit hook(Fn f) : fn(std::move(f)) {}
        Fn fn;
    };
    static void invoke(detail::cancel_link& link) noexcept { static_cast<hook&>(link).fn(); }
    hook hook_;
};

}  // namespace coil
