// Description: starting a task allocates nothing for its cancel scope (issue 6, fault 2). A task
// without a token of its own simply takes its starter's token; one with its own token gets its
// combined scope allocated by set_cancel_token, before it starts, never by the await.
// This binary replaces the global operator new to count allocations (malloc-backed), so it is
// kept apart from the other tests.
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>

#include "coil/runtime/cancel.hpp"
#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/task.hpp"

#include "support/counting_new.hpp"

using coil::testing::allocations;

namespace {

using coil::task;

task<int> ready_child() { co_return 1; }

// Awaits `child` (already created) and reports how many allocations the await itself made.
task<long> allocations_of_await(task<int>& child) {
    const long before = allocations;
    const int value = co_await child;
    const long made = allocations - before;
    EXPECT_EQ(value, 1);
    co_return made;
}

TEST(CancelAllocTest, AwaitingATaskWithoutItsOwnTokenAllocatesNothing) {
    coil::event_loop loop;
    coil::cancel_source parent;
    auto child = ready_child();
    auto outer = allocations_of_await(child);
    outer.set_cancel_token(parent.token());
    EXPECT_EQ(loop.run(std::move(outer)), 0);
}

TEST(CancelAllocTest, AwaitingATaskWithItsOwnTokenAllocatesNothingEither) {
    coil::event_loop loop;
    coil::cancel_source parent;
    coil::cancel_source own;
    auto child = ready_child();
    const long before = allocations;
    child.set_cancel_token(own.token());
    EXPECT_EQ(allocations - before, 1);  // the combined scope, once, here
    auto outer = allocations_of_await(child);
    outer.set_cancel_token(parent.token());
    EXPECT_EQ(loop.run(std::move(outer)), 0);
}

}  // namespace
