// Description: a task destroyed while it awaits another task that it does not own (an lvalue, or
// std::move of a task that a longer-lived object holds). The awaited task had been started by the
// awaiter and kept running after the awaiter's frame was gone: its continuation still pointed at
// the freed frame (resumed when it finished) and its operations' cancel links hung in the freed
// frame's cancel scope; a task owned outside a loop even stayed suspended on that loop after it was
// destroyed. Destroying a task at any suspension point must be safe (task.hpp): now a task started
// by an await is destroyed with the awaiter that started it (its I/O drained), as a temporary one
// always was, and the object that held it is left empty (the awaiter follows that object when
// it is moved, and lets go of it when it is destroyed first).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>

#include "coil/runtime.hpp"
#include "support/backend_test.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;

class TaskAwaiterDestroyedTest : public coil::testing::BackendTest {};

task<int> slow_value(int& finished) {
    co_await coil::sleep_for(20ms);
    ++finished;
    co_return 7;
}

task<void> await_lvalue(task<int>& t, int& got) { got = co_await t; }
task<void> await_moved(task<int>& t, int& got) { got = co_await std::move(t); }

TEST_P(TaskAwaiterDestroyedTest, DestroyingTheAwaiterOfAnLvalueTaskDestroysWhatItStarted) {
    auto body = []() -> task<void> {
        int finished = 0;
        int got = 0;
        task<int> child = slow_value(finished);
        {
            coil::task_group group;
            group.spawn(await_lvalue(child, got));
            co_await coil::sleep_for(1ms);  // child sleeps, started by the awaiter
            EXPECT_EQ(group.running(), 1u);
        }  // destroys the awaiter (and its cancel scope, the group's)
        EXPECT_FALSE(child.valid()) << "the started child outlived the task that awaited it";
        EXPECT_EQ(coil::event_loop::current()->armed_timers(), 0u);
        co_await coil::sleep_for(40ms);  // the child's sleep would have ended by now
        EXPECT_EQ(finished, 0);
        EXPECT_EQ(got, 0);
    };
    run_paused(body());
}

TEST_P(TaskAwaiterDestroyedTest, DestroyingTheAwaiterOfAMovedFromTaskDestroysWhatItStarted) {
    auto body = []() -> task<void> {
        int finished = 0;
        int got = 0;
        task<int> child = slow_value(finished);
        {
            coil::task_group group;
            group.spawn(await_moved(child, got));
            co_await coil::sleep_for(1ms);
        }
        EXPECT_FALSE(child.valid());
        co_await coil::sleep_for(40ms);
        EXPECT_EQ(finished, 0);
    };
    run_paused(body());
}

TEST_P(TaskAwaiterDestroyedTest, ATaskOwnedOutsideALoopIsNotLeftSuspendedOnTheDestroyedLoop) {
    int finished = 0;
    int got = 0;
    std::optional<task<int>> child(slow_value(finished));
    {
        coil::event_loop loop(options());
        loop.spawn(await_lvalue(*child, got));
        loop.run([]() -> task<void> { co_await coil::yield(); }());
        EXPECT_EQ(loop.spawned_count(), 1u);
        EXPECT_EQ(loop.armed_timers(), 1u);
    }  // the loop destroys the spawned awaiter, which started `child`
    EXPECT_FALSE(child->valid());
    child.reset();  // destroying it afterwards touches no loop
    EXPECT_EQ(finished, 0);
}

TEST_P(TaskAwaiterDestroyedTest, TheAwaiterFollowsTheTaskObjectWhenItIsMoved) {
    auto body = []() -> task<void> {
        int finished = 0;
        int got = 0;
        task<int> first = slow_value(finished);
        task<int> second;
        {
            coil::task_group group;
            group.spawn(await_lvalue(first, got));
            co_await coil::sleep_for(1ms);
            second = std::move(first);  // the frame changes hands while it is awaited
        }
        EXPECT_FALSE(first.valid());
        EXPECT_FALSE(second.valid()) << "the frame's new holder was not told";
        co_await coil::sleep_for(40ms);
        EXPECT_EQ(finished, 0);
    };
    run_paused(body());
}

TEST_P(TaskAwaiterDestroyedTest, ATaskObjectDestroyedBeforeItsSuspendedAwaiterIsNotTouchedAgain) {
    // The other order: the object holding the awaited task goes first (its frame with it), then
    // the awaiter's frame; the awaiter must not reach into the freed object.
    auto body = []() -> task<void> {
        int finished = 0;
        int got = 0;
        coil::task_group awaiters;
        auto holder = std::make_unique<task<int>>(slow_value(finished));
        awaiters.spawn(await_lvalue(*holder, got));
        co_await coil::sleep_for(1ms);
        holder.reset();  // destroys the awaited frame under its suspended awaiter
        co_await coil::sleep_for(40ms);
        EXPECT_EQ(awaiters.running(), 1u);  // never resumed: what it awaited is gone
        EXPECT_EQ(finished, 0);
    };  // `awaiters` destroys the awaiter now
    run_paused(body());
}

TEST_P(TaskAwaiterDestroyedTest, AnAwaitThatFinishedLeavesTheLvalueTaskWithItsResult) {
    auto body = []() -> task<int> {
        int finished = 0;
        int got = 0;
        task<int> child = slow_value(finished);
        co_await await_lvalue(child, got);
        EXPECT_TRUE(child.done());
        co_return got + finished;
    };
    EXPECT_EQ(run_paused(body()), 8);
}

COIL_INSTANTIATE_BACKEND_TEST(TaskAwaiterDestroyedTest);

}  // namespace
