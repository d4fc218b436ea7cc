// Description: a task destroyed while it waits in task_group::join(), on a group that lives on.
// join() stored the joining coroutine's handle in the group (the waiter its last child resumes)
// and nothing took it back when the joiner's frame was destroyed mid-wait (by its own task_group,
// a when_all/when_any parent or the loop going away). The group's last child then resumed the
// freed frame (heap-use-after-free, or a jump into whatever reused the memory). Destroying a task
// at any suspension point must be safe (task.hpp); afterwards the group is joinable again.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "coil/runtime.hpp"
#include "support/backend_test.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;

class TaskGroupJoinerTest : public coil::testing::BackendTest {};

task<void> join_it(coil::task_group& g) { co_await g.join(); }

TEST_P(TaskGroupJoinerTest, AJoinerDestroyedMidJoinIsNotResumedByTheGroup) {
    auto body = []() -> task<int> {
        int finished = 0;
        coil::task_group lasting;
        lasting.spawn([](int& n) -> task<void> {
            co_await coil::sleep_for(20ms);
            ++n;
        }(finished));
        {
            coil::task_group short_lived;
            short_lived.spawn(join_it(lasting));
            co_await coil::sleep_for(1ms);  // the joiner waits in lasting.join() by now
            EXPECT_EQ(short_lived.running(), 1u);
        }  // destroys the joiner mid-join
        co_await coil::sleep_for(40ms);  // lasting's child finishes: nobody may be resumed
        EXPECT_EQ(lasting.running(), 0u);
        co_await lasting.join();  // and the group can still be joined
        co_return finished;
    };
    EXPECT_EQ(run_paused(body()), 1);
}

TEST_P(TaskGroupJoinerTest, AGroupDestroyedBeforeItsDestroyedJoinerIsNotTouched) {
    // The other order: the group goes first, then the task still suspended in its join() is
    // cancelled and destroyed. Cancelling the joiner used to cancel the freed group (the join's
    // cancel link pointed at it), and the joiner must not reach into it when destroyed either.
    auto body = []() -> task<void> {
        coil::task_group joiners;
        {
            auto lasting = std::make_unique<coil::task_group>();
            lasting->spawn([]() -> task<void> { co_await coil::sleep_for(1h); }());
            joiners.spawn(join_it(*lasting));
            co_await coil::sleep_for(1ms);
            EXPECT_EQ(joiners.running(), 1u);
            lasting.reset();  // its child is destroyed; the joiner still waits (it never ends)
        }
        EXPECT_EQ(joiners.running(), 1u);
        joiners.cancel();  // reaches the joiner's cancel links: none may lead to the freed group
        co_await coil::sleep_for(1ms);
    };  // joiners destroys the joiner: it must not touch the freed group
    run_paused(body());
}

COIL_INSTANTIATE_BACKEND_TEST(TaskGroupJoinerTest);

}  // namespace
