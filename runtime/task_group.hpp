#pragma once
// task_group: structured concurrency for a dynamic set of child tasks.
//
//     coil::task_group group(co_await coil::current_cancel_token());
//     for (auto& c : clients) group.spawn(serve(c));
//     co_await group.join();          // all finished; rethrows the first failure
//
// Children start on the next loop turn and run concurrently on the loop of the caller. When a
// child throws, the group records the first exception and cancels the other children at once;
// join() waits for every child and then rethrows that exception.
// Cancellation: children run under the group's cancel scope, which follows the parent token
// given at construction; cancelling the task that awaits join() cancels them too, for as long as
// it awaits; cancel() cancels them all. A child with a token of its own (set_cancel_token) runs
// under both the group's scope and that token: cancelling its own token ends that child only.
// Lifetime: prefer to join. Destroying a group with children still running destroys them (each
// child's in-flight I/O is cancelled and drained first); their exceptions are then lost. A task
// destroyed while it waits in join() is forgotten by the group (never resumed); a task left
// waiting in join() on a group that is destroyed is never resumed either, and may be destroyed
// safely afterwards. One join() at a time.
// Threading: loop thread only.

#include <coroutine>
#include <cstddef>
#include <exception>
#include <list>
#include <optional>

#include "coil/runtime/cancel.hpp"
#include "coil/runtime/detail/join.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

class task_group {
public:
    explicit task_group(cancel_token parent = {}) noexcept;
    ~task_group();
    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;

    /// Adds a child; it starts on the next loop turn. Throws std::logic_error without a loop.
    void spawn(task<void> child);

    /// Requests cancellation of every child (only a request).
    void cancel() noexcept { scope_.request_cancel(); }
    [[nodiscard]] cancel_token token() noexcept { return scope_.token(); }
    /// Children started and not yet finished.
    [[nodiscard]] std::size_t running() const noexcept { return state_.remaining; }

    class [[nodiscard]] join_awaiter {
    public:
        explicit join_awaiter(task_group& group) noexcept : group_(&group) {}
        join_awaiter(const join_awaiter& other) noexcept : group_(other.group_) {}
        join_awaiter& operator=(const join_awaiter&) = delete;
        // Destroyed while suspended (the joining task went away mid-join): the group must not
        // resume the dead frame, nor reach this awaiter later.
        ~join_awaiter() { leave(); }

        bool await_ready() const noexcept { return group_->state_.remaining == 0; }
        template <class P>
        void await_suspend(std::coroutine_handle<P> awaiting) noexcept {
            // While joining, cancelling the joiner cancels the children. The group's own scope
            // keeps the parent it was built with; this link lives only as long as the join.
            joiner_cancelled_.on_cancel = &cancel_group;
            joiner_cancelled_.group = group_;
            group_->state_.waiter = awaiting;
            group_->joiner_ = this;
            if (detail::cancel_state* joiner = detail::cancel_state_of(awaiting)) {
                joiner->attach(joiner_cancelled_);
            }
        }
        void await_resume() {
            leave();
            group_->rethrow_first_failure();
        }

    private:
        friend class task_group;
        struct group_link : detail::cancel_link {
            task_group* group = nullptr;
        };
        static void cancel_group(detail::cancel_link& link) noexcept {
            static_cast<group_link&>(link).group->cancel();
        }
        void leave() noexcept {
            detail::cancel_state::unlink(joiner_cancelled_);
            if (group_ != nullptr && group_->joiner_ == this) {
                group_->joiner_ = nullptr;
                group_->state_.waiter = {};  // (already taken if the last child resumed us)
            }
        }

        task_group* group_;  // null once the group is destroyed under a suspended join
        group_link joiner_cancelled_;
    };

    /// Waits until every child has finished, then rethrows the first child exception, if any.
    join_awaiter join() noexcept { return join_awaiter(*this); }

private:
    struct child {
        task<void> work;
        std::optional<detail::join_child> runner;
        std::list<child>::iterator self;
    };
    struct state : detail::join_state {
        task_group* group = nullptr;
    };

    static void child_done(detail::join_state& base, std::size_t tag) noexcept;
    void rethrow_first_failure();

    state state_;
    cancel_source scope_;
    std::list<child> children_;
    std::exception_ptr first_failure_;
    join_awaiter* joiner_ = nullptr;  // the join() suspended on this group, if any
};

}  // namespace coil
