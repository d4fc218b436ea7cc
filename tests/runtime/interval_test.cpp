// coil::interval on the paused clock: ticks on schedule, the three missed-tick policies, a tick
// late by less than a period, cancellation.
#include "coil/runtime/interval.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <vector>

#include "coil/runtime.hpp"
#include "support/backend_test.hpp"

namespace {

using namespace std::chrono_literals;
using coil::clock;
using coil::missed_tick_behavior;
using coil::task;

class IntervalTest : public coil::testing::BackendTest {};

using ms_list = std::vector<std::chrono::milliseconds>;

std::chrono::milliseconds since(clock::time_point start, clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t - start);
}

// Ticks `before_gap` times, is busy for `gap`, then ticks `after_gap` more times. Returns
// "scheduled@delivered" pairs in ms since the start, flattened: scheduled, delivered, ...
task<ms_list> tick_with_gap(missed_tick_behavior policy, int before_gap, std::chrono::milliseconds gap,
                            int after_gap) {
    const auto start = coil::now();
    coil::interval every(10ms, policy);
    ms_list seen;
    for (int i = 0; i < before_gap + after_gap; ++i) {
        if (i == before_gap) {
            auto slept = co_await coil::sleep_for(gap);
            EXPECT_TRUE(slept);
        }
        auto at = co_await every.tick();
        EXPECT_TRUE(at);
        if (!at) break;
        seen.push_back(since(start, *at));
        seen.push_back(since(start, coil::now()));
    }
    co_return seen;
}

TEST_P(IntervalTest, TicksAtStartThenEveryPeriod) {
    EXPECT_EQ(run_paused(tick_with_gap(missed_tick_behavior::burst, 4, 0ms, 0)),
              (ms_list{0ms, 0ms, 10ms, 10ms, 20ms, 20ms, 30ms, 30ms}));
}

TEST_P(IntervalTest, BurstDeliversEveryMissedTickAtOnceAndKeepsThePhase) {
    // Busy from 0 to 35: ticks 10, 20, 30 come at 35 back to back, then 40 on time.
    EXPECT_EQ(run_paused(tick_with_gap(missed_tick_behavior::burst, 1, 35ms, 4)),
              (ms_list{0ms, 0ms, 10ms, 35ms, 20ms, 35ms, 30ms, 35ms, 40ms, 40ms}));
}

TEST_P(IntervalTest, DelayRestartsThePeriodFromTheLateTick) {
    // Tick 10 comes late at 35; the next ones are 45, 55.
    EXPECT_EQ(run_paused(tick_with_gap(missed_tick_behavior::delay, 1, 35ms, 3)),
              (ms_list{0ms, 0ms, 10ms, 35ms, 45ms, 45ms, 55ms, 55ms}));
}

TEST_P(IntervalTest, SkipDropsTheMissedTicksAndKeepsThePhase) {
    // Tick 10 comes late at 35; 20 and 30 are dropped; then 40, 50.
    EXPECT_EQ(run_paused(tick_with_gap(missed_tick_behavior::skip, 1, 35ms, 3)),
              (ms_list{0ms, 0ms, 10ms, 35ms, 40ms, 40ms, 50ms, 50ms}));
}

TEST_P(IntervalTest, LateByLessThanAPeriodIsNotMissed) {
    // Tick 10 comes at 15: the next is still 20, under every policy.
    for (auto policy : {missed_tick_behavior::burst, missed_tick_behavior::delay, missed_tick_behavior::skip}) {
        EXPECT_EQ(run_paused(tick_with_gap(policy, 1, 15ms, 2)), (ms_list{0ms, 0ms, 10ms, 15ms, 20ms, 20ms}))
            << static_cast<int>(policy);
    }
}

TEST_P(IntervalTest, ExplicitStartAndReset) {
    auto body = []() -> task<void> {
        const auto start = coil::now();
        coil::interval every(start + 5ms, 10ms);
        auto first = co_await every.tick();
        EXPECT_EQ(since(start, first.value()), 5ms);
        EXPECT_EQ(since(start, every.next_tick()), 15ms);
        every.reset();  // now is 5: next at 15 anyway; move time first
        co_await coil::sleep_for(3ms);
        every.reset();
        auto second = co_await every.tick();
        EXPECT_EQ(since(start, second.value()), 18ms);
    };
    run_paused(body());
}

TEST_P(IntervalTest, CancelledTickIsOperationCanceledAndTheTickStaysPending) {
    auto body = []() -> task<void> {
        const auto start = coil::now();
        coil::interval every(10ms);
        auto first = co_await every.tick();
        EXPECT_TRUE(first);
        coil::cancel_source source;
        auto waiter = [](coil::interval& iv) -> task<coil::result<clock::time_point>> { co_return co_await iv.tick(); };
        auto canceller = [](coil::cancel_source& s) -> task<void> {
            co_await coil::sleep_for(3ms);
            s.request_cancel();
        };
        auto t = waiter(every);
        t.set_cancel_token(source.token());
        auto [got, unused] = co_await coil::when_all(std::move(t), canceller(source));
        EXPECT_EQ(got.error(), std::errc::operation_canceled);
        EXPECT_EQ(since(start, coil::now()), 3ms);
        EXPECT_EQ(since(start, every.next_tick()), 10ms);
        EXPECT_EQ(coil::event_loop::current()->armed_timers(), 0u);
        auto next = co_await every.tick();
        EXPECT_EQ(since(start, next.value()), 10ms);
    };
    run_paused(body());
}

TEST_P(IntervalTest, PeriodMustBePositive) {
    auto body = []() -> task<void> {
        EXPECT_THROW(coil::interval(0ms), std::invalid_argument);
        EXPECT_THROW(coil::interval(-1ms), std::invalid_argument);
        co_return;
    };
    run_paused(body());
}

}  // namespace

COIL_INSTANTIATE_BACKEND_TEST(IntervalTest);
