#pragma once
// Cancellation: a request that travels from a cancel_source to whatever its tokens reach.
//
// A task carries a cancel_token; awaiting a child task hands the same token down, so a request
// reaches the I/O operation at the bottom of the chain, which then asks its backend to cancel
// (io_uring: ASYNC_CANCEL; epoll: drop the wait). Cancellation is a request: the operation still
// completes exactly once, with operation_canceled or, if it won the race, with its real result.
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

private:
    cancel_link head_;
    bool requested_ = false;
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
