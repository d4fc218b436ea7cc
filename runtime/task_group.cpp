#include "coil/runtime/task_group.hpp"

#include <cstdint>
#include <stdexcept>

#include "coil/runtime/event_loop.hpp"

namespace coil {

task_group::task_group(cancel_token parent) noexcept : scope_(parent) {
    state_.group = this;
    state_.on_child_done = &task_group::child_done;
}

task_group::~task_group() {
    // A join() still suspended on us (its task outlives the group): it must not reach us later,
    // through its cancel link or its destructor.
    if (joiner_ != nullptr) {
        detail::cancel_state::unlink(joiner_->joiner_cancelled_);
        joiner_->group_ = nullptr;
    }
    // Running children are destroyed here; their runners never report back.
    children_.clear();
}

void task_group::spawn(task<void> work) {
    if (!work.valid()) throw std::logic_error("coil::task_group::spawn: empty task");
    event_loop& loop = event_loop::current_or_throw();
    child& c = children_.emplace_back();
    c.self = std::prev(children_.end());
    c.work = std::move(work);
    // Under the group's scope and, if it has one, the child's own token: either cancels it.
    c.work.inherit_cancel_token(scope_.token());
    c.runner.emplace(detail::run_joined(c.work));
    // The tag is the child's address: list nodes never move.
    c.runner->bind(state_, reinterpret_cast<std::uintptr_t>(&c));
    ++state_.remaining;
    loop.schedule(c.runner->start_node());
}

void task_group::child_done(detail::join_state& base, std::size_t tag) noexcept {
    task_group& group = *static_cast<state&>(base).group;
    child& c = *reinterpret_cast<child*>(tag);
    try {
        c.work.take_result();
    } catch (...) {
        if (!group.first_failure_) {
            group.first_failure_ = std::current_exception();
            group.scope_.request_cancel();
        }
    }
    // Destroys the runner frame that is calling us; it touches nothing of itself afterwards.
    group.children_.erase(c.self);
}

void task_group::rethrow_first_failure() {
    if (first_failure_) std::rethrow_exception(std::exchange(first_failure_, {}));
}

}  // namespace coil
