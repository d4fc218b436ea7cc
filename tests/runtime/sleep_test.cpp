#include "coil/runtime/sleep.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

#include "coil/runtime/task_group.hpp"
#include "support/backend_test.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;

class SleepTest : public coil::testing::BackendTest {};

task<void> sleep_then_record(coil::clock::time_point deadline, int id, std::vector<int>& order) {
    co_await coil::sleep_until(deadline);
    order.push_back(id);
}

TEST_P(SleepTest, SleepsForAtLeastTheDuration) {
    auto body = []() -> task<coil::clock::duration> {
        const auto start = coil::clock::now();
        auto r = co_await coil::sleep_for(20ms);
        EXPECT_TRUE(r);
        co_return coil::clock::now() - start;
    };
    EXPECT_GE(run(body()), 20ms);
}

TEST_P(SleepTest, TimersFireInDeadlineOrderWhateverTheArmingOrder) {
    std::vector<int> order;
    auto body = [&]() -> task<void> {
        const auto base = coil::clock::now() + 5ms;
        coil::task_group group;
        // Deadlines are given out of order; ids equal the deadline's rank.
        for (int id : {3, 0, 4, 1, 2}) group.spawn(sleep_then_record(base + id * 1ms, id, order));
        co_await group.join();
    };
    run(body());
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST_P(SleepTest, EqualDeadlinesFireInArmingOrder) {
    std::vector<int> order;
    auto body = [&]() -> task<void> {
        const auto deadline = coil::clock::now() + 3ms;
        coil::task_group group;
        for (int id = 0; id < 8; ++id) group.spawn(sleep_then_record(deadline, id, order));
        co_await group.join();
    };
    run(body());
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST_P(SleepTest, TenThousandTimersAllFireInNonDecreasingDeadlineOrder) {
    constexpr int count = 10'000;
    std::vector<int> order;
    std::vector<coil::clock::time_point> deadlines(count);
    coil::clock::time_point all_armed{};
    auto body = [&]() -> task<void> {
        std::mt19937 rng(12345);
        std::uniform_int_distribution<int> micros(0, 20'000);
        const auto base = coil::clock::now() + 50ms;
        coil::task_group group;
        for (int id = 0; id < count; ++id) {
            deadlines[id] = base + std::chrono::microseconds(micros(rng));
            group.spawn(sleep_then_record(deadlines[id], id, order));
        }
        co_await coil::yield();  // every child starts (and arms its timer) before this resumes
        all_armed = coil::clock::now();
        co_await group.join();
    };
    run(body());
    ASSERT_EQ(order.size(), static_cast<std::size_t>(count));
    // A timer already due when armed completes at once, so the ordering claim covers the timers
    // that were still in the future once all were armed (all of them, unless the machine stalled).
    std::vector<coil::clock::time_point> fired;
    for (int id : order) {
        if (deadlines[id] > all_armed) fired.push_back(deadlines[id]);
    }
    EXPECT_GT(fired.size(), static_cast<std::size_t>(count / 2)) << "too few timers to judge";
    EXPECT_TRUE(std::is_sorted(fired.begin(), fired.end()));
}

TEST_P(SleepTest, CancellingASleepWakesItEarlyWithOperationCanceled) {
    auto body = []() -> task<void> {
        coil::task_group group;
        coil::result<void> outcome;
        auto sleeper = [](coil::result<void>& out) -> task<void> { out = co_await coil::sleep_for(1h); };
        group.spawn(sleeper(outcome));
        co_await coil::sleep_for(2ms);
        group.cancel();
        co_await group.join();
        EXPECT_EQ(outcome.error(), std::errc::operation_canceled);
    };
    const auto start = coil::clock::now();
    run(body());
    EXPECT_LT(coil::clock::now() - start, 1h);  // bounded: it did not sleep the hour
}

TEST_P(SleepTest, ASleepInAnAlreadyCancelledTaskDoesNotWait) {
    coil::cancel_source source;
    source.request_cancel();
    auto body = []() -> task<coil::result<void>> { co_return co_await coil::sleep_for(1h); };
    auto t = body();
    t.set_cancel_token(source.token());
    EXPECT_EQ(run(std::move(t)).error(), std::errc::operation_canceled);
}

TEST_P(SleepTest, DestroyedSleepersDisarmTheirTimers) {
    // Children destroyed with the group must leave no dangling timer behind: the loop keeps
    // running timers afterwards (ASan would flag a stale node).
    auto body = []() -> task<void> {
        {
            coil::task_group group;
            for (int i = 0; i < 100; ++i) {
                group.spawn([]() -> task<void> { co_await coil::sleep_for(1h); }());
            }
            co_await coil::sleep_for(1ms);
        }  // destroyed while sleeping
        co_await coil::sleep_for(2ms);
    };
    run(body());
}

TEST_P(SleepTest, YieldLetsOtherReadyTasksRunFirst) {
    std::vector<int> order;
    auto body = [&]() -> task<void> {
        coil::task_group group;
        group.spawn([](std::vector<int>& o) -> task<void> {
            o.push_back(1);
            co_return;
        }(order));
        co_await coil::yield();  // the child starts during this turn
        order.push_back(2);
        co_await group.join();
    };
    run(body());
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

COIL_INSTANTIATE_BACKEND_TEST(SleepTest);

}  // namespace
