#include "coil/runtime/sleep.hpp"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "coil/runtime/errc.hpp"
#include "coil/runtime/io.hpp"
#include "coil/runtime/task_group.hpp"
#include "coil/runtime/with_timeout.hpp"
#include "support/backend_test.hpp"
#include "support/sockets.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;
using ns = std::chrono::nanoseconds;
using time_point = coil::clock::time_point;

class SleepTest : public coil::testing::BackendTest {};

coil::event_loop& loop() { return coil::event_loop::current_or_throw(); }

task<void> sleep_then_record(time_point deadline, int id, std::vector<int>& order) {
    co_await coil::sleep_until(deadline);
    order.push_back(id);
}

// ---- The monotonic clock (these are about real time) ----

TEST_P(SleepTest, SleepsForAtLeastTheDuration) {
    auto body = []() -> task<coil::clock::duration> {
        const auto start = coil::clock::now();
        auto r = co_await coil::sleep_for(20ms);
        EXPECT_TRUE(r);
        co_return coil::clock::now() - start;
    };
    EXPECT_GE(run(body()), 20ms);
}

// ---- Order, on the paused clock ----

TEST_P(SleepTest, SleepForAdvancesThePausedClockByExactlyTheDuration) {
    auto body = []() -> task<void> {
        const time_point start = coil::now();
        auto hour = co_await coil::sleep_for(1h);  // no real hour: the clock jumps
        EXPECT_TRUE(hour);
        EXPECT_EQ(coil::now() - start, 1h);
        auto micros = co_await coil::sleep_for(std::chrono::microseconds(3));
        EXPECT_TRUE(micros);
        EXPECT_EQ(coil::now() - start, 1h + 3us);
    };
    run_paused(body());
}

TEST_P(SleepTest, AdvanceMovesThePausedClockAndFiresWhatBecameDue) {
    std::vector<int> order;
    auto body = [&]() -> task<void> {
        const time_point base = coil::now();
        coil::task_group group;
        group.spawn(sleep_then_record(base + 10ms, 1, order));
        group.spawn(sleep_then_record(base + 30ms, 2, order));
        co_await coil::yield();  // both armed
        EXPECT_EQ(loop().armed_timers(), 2u);
        loop().advance(10ms);
        co_await coil::yield();  // the loop's turn fires the first timer, not the second
        co_await coil::yield();
        EXPECT_EQ(order, (std::vector<int>{1}));
        EXPECT_EQ(coil::now() - base, 10ms);
        EXPECT_THROW(loop().advance(-1ns), std::invalid_argument);
        co_await group.join();  // auto-advance to the second
        EXPECT_EQ(coil::now() - base, 30ms);
    };
    run_paused(body());
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST_P(SleepTest, AdvanceNeedsAPausedClock) {
    coil::event_loop l(options());
    EXPECT_FALSE(l.clock_paused());
    EXPECT_THROW(l.advance(1ms), std::logic_error);
}

TEST_P(SleepTest, TimersFireInDeadlineOrderWhateverTheArmingOrder) {
    std::vector<int> order;
    auto body = [&]() -> task<void> {
        const auto base = coil::now() + 5ms;
        coil::task_group group;
        // Deadlines are given out of order; ids equal the deadline's rank; 1 ns apart.
        for (int id : {3, 0, 4, 1, 2}) group.spawn(sleep_then_record(base + id * 1ns, id, order));
        co_await group.join();
    };
    run_paused(body());
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST_P(SleepTest, EqualDeadlinesFireInArmingOrder) {
    std::vector<int> order;
    auto body = [&]() -> task<void> {
        const auto deadline = coil::now() + 3ms;
        coil::task_group group;
        for (int id = 0; id < 8; ++id) group.spawn(sleep_then_record(deadline, id, order));
        co_await group.join();
    };
    run_paused(body());
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST_P(SleepTest, TenThousandTimersFireInDeadlineThenArmingOrder) {
    constexpr int count = 10'000;
    std::vector<int> order;
    std::vector<time_point> deadlines(count);
    auto body = [&]() -> task<void> {
        std::mt19937 rng(12345);
        std::uniform_int_distribution<int> micros(0, 2'000);  // many equal deadlines too
        const auto base = coil::now() + 50ms;
        coil::task_group group;
        for (int id = 0; id < count; ++id) {
            deadlines[id] = base + std::chrono::microseconds(micros(rng));
            group.spawn(sleep_then_record(deadlines[id], id, order));
        }
        co_await coil::yield();  // every child starts (and arms its timer) before this resumes
        EXPECT_EQ(loop().armed_timers(), static_cast<std::size_t>(count));
        co_await group.join();
        EXPECT_EQ(loop().armed_timers(), 0u);
    };
    run_paused(body());
    // The paused clock does not move while they are armed, so none was due early: the order is
    // exactly (deadline, arming order), and ids were armed in increasing order.
    std::vector<int> expected(count);
    std::iota(expected.begin(), expected.end(), 0);
    std::stable_sort(expected.begin(), expected.end(),
                     [&](int a, int b) { return deadlines[a] < deadlines[b]; });
    EXPECT_EQ(order, expected);
}

// Was: CancellingASleepWakesItEarlyWithOperationCanceled, whose bound (elapsed < 1h) could not
// fail. On the paused clock an hour-long sleep that were not woken would move the clock an hour.
TEST_P(SleepTest, CancellingASleepWakesItBeforeItsDeadline) {
    auto body = []() -> task<void> {
        const time_point start = coil::now();
        coil::task_group group;
        coil::result<void> outcome;
        auto sleeper = [](coil::result<void>& out) -> task<void> { out = co_await coil::sleep_for(1h); };
        group.spawn(sleeper(outcome));
        co_await coil::sleep_for(2ms);
        group.cancel();
        co_await group.join();
        EXPECT_EQ(outcome.error(), std::errc::operation_canceled);
        EXPECT_EQ(coil::now() - start, 2ms);
        EXPECT_EQ(loop().armed_timers(), 0u);  // the cancelled sleep disarmed its timer
    };
    run_paused(body());
}

TEST_P(SleepTest, ASleepInAnAlreadyCancelledTaskDoesNotWait) {
    coil::cancel_source source;
    source.request_cancel();
    auto body = []() -> task<coil::result<void>> {
        const time_point start = coil::now();
        auto r = co_await coil::sleep_for(1h);
        EXPECT_EQ(coil::now(), start);
        EXPECT_EQ(loop().armed_timers(), 0u);
        co_return r;
    };
    auto t = body();
    t.set_cancel_token(source.token());
    EXPECT_EQ(run_paused(std::move(t)).error(), std::errc::operation_canceled);
}

// Was: DestroyedSleepersDisarmTheirTimers, which asserted nothing ("ASan would flag").
TEST_P(SleepTest, DestroyedSleepersDisarmTheirTimers) {
    auto body = []() -> task<void> {
        {
            coil::task_group group;
            for (int i = 0; i < 100; ++i) {
                group.spawn([]() -> task<void> { co_await coil::sleep_for(1h); }());
            }
            co_await coil::sleep_for(1ms);
            EXPECT_EQ(loop().armed_timers(), 100u);
        }  // destroyed while sleeping
        EXPECT_EQ(loop().armed_timers(), 0u);
        co_await coil::sleep_for(2ms);  // the loop keeps running timers afterwards
        EXPECT_EQ(loop().armed_timers(), 0u);
    };
    run_paused(body());
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

TEST_P(SleepTest, PausedAutoAdvanceStillDeliversIoThatIsReady) {
    // Auto-advance polls I/O first: a recv whose data is already there wins a 1 ms timeout.
    auto pair = coil::testing::make_socket_pair();
    auto body = [&]() -> task<void> {
        std::byte buf[4];
        auto empty = co_await coil::with_timeout(coil::recv(pair.a.get(), buf), 1ms);
        EXPECT_EQ(empty.error(), coil::errc::timed_out);
        EXPECT_EQ(::send(pair.b.get(), "z", 1, 0), 1);
        auto ready = co_await coil::with_timeout(coil::recv(pair.a.get(), buf), 1ms);
        EXPECT_EQ(ready.value_or(0), 1u);
        EXPECT_EQ(loop().io_in_flight(), 0u);
    };
    run_paused(body());
}

// ---- Issue 6: huge, negative and past durations and deadlines ----

TEST(DeadlineArithmeticTest, DurationsBeyondTheClockSaturateInsteadOfOverflowing) {
    using coil::detail::to_clock_duration;
    EXPECT_EQ(to_clock_duration(std::chrono::hours::max()), ns::max());
    EXPECT_EQ(to_clock_duration(std::chrono::hours::min()), ns::min());
    EXPECT_EQ(to_clock_duration(std::chrono::seconds::max()), ns::max());
    EXPECT_EQ(to_clock_duration(ns::max()), ns::max());
    EXPECT_EQ(to_clock_duration(ns::min()), ns::min());
    EXPECT_EQ(to_clock_duration(std::chrono::duration<double>(1e300)), ns::max());
    EXPECT_EQ(to_clock_duration(std::chrono::duration<double>(-1e300)), ns::min());
    const double inf = std::numeric_limits<double>::infinity();
    EXPECT_EQ(to_clock_duration(std::chrono::duration<double>(inf)), ns::max());
    EXPECT_EQ(to_clock_duration(std::chrono::duration<double>(-inf)), ns::min());
    EXPECT_EQ(to_clock_duration(std::chrono::duration<double>(std::nan(""))), ns::zero());
    // In range: exact, rounded up to whole nanoseconds.
    EXPECT_EQ(to_clock_duration(std::chrono::hours(2)), ns(7'200'000'000'000));
    EXPECT_EQ(to_clock_duration(std::chrono::duration<long long, std::pico>(1)), ns(1));
    EXPECT_EQ(to_clock_duration(std::chrono::duration<double, std::milli>(1.0000001)), ns(1'000'001));
    EXPECT_EQ(to_clock_duration(-1500us), ns(-1'500'000));
}

TEST(DeadlineArithmeticTest, DeadlineAdditionSaturatesAtTheClocksEnds) {
    using coil::detail::saturating_add;
    using coil::detail::time_until;
    const time_point now = coil::clock::now();
    EXPECT_EQ(saturating_add(now, ns::max()), time_point::max());
    EXPECT_EQ(saturating_add(now, ns::min()), now + ns::min());  // far back, still in range
    EXPECT_EQ(saturating_add(time_point(-1s), ns::min()), time_point::min());
    EXPECT_EQ(saturating_add(time_point::max() - 1ns, 1h), time_point::max());
    EXPECT_EQ(saturating_add(now, 5ms), now + 5ms);
    EXPECT_EQ(time_until(time_point::min(), now), ns::zero());
    EXPECT_EQ(time_until(now - 1h, now), ns::zero());
    EXPECT_EQ(time_until(time_point::max(), time_point(-1h)), ns::max());
    EXPECT_EQ(time_until(now + 5ms, now), 5ms);
    EXPECT_EQ(coil::detail::to_clock_time_point(
                  std::chrono::time_point<coil::clock, std::chrono::hours>::max()),
              time_point::max());
}

// Issue 6, first example: with_timeout(sleep_for(50ms), nanoseconds::max()) ended timed_out at
// once (the deadline wrapped around into the past). On the real clock, as reported.
TEST_P(SleepTest, WithTimeoutOfNanosecondsMaxNeverExpires) {
    auto body = []() -> task<void> {
        const auto start = coil::clock::now();
        auto r = co_await coil::with_timeout(coil::sleep_for(50ms), ns::max());
        EXPECT_TRUE(r) << r.error().message();
        EXPECT_GE(coil::clock::now() - start, 50ms);
    };
    run(body());
}

// Every huge limit, with any rep and period, and the deadline forms, on the paused clock: the
// inner sleep always finishes, after exactly its own duration, and no timer is armed for the
// limit while it runs.
TEST_P(SleepTest, HugeTimeoutsAndDeadlinesNeverExpire) {
    auto body = []() -> task<void> {
        auto check = [](auto limited) -> task<void> {
            const time_point start = coil::now();
            auto r = co_await std::move(limited);
            EXPECT_TRUE(r) << r.error().message();
            EXPECT_EQ(coil::now() - start, 7ms);
        };
        auto inner = []() -> task<void> {
            EXPECT_EQ(loop().armed_timers(), 0u);  // the limit's timer is not armed
            co_await coil::sleep_for(7ms);
        };
        co_await check(coil::with_timeout(inner(), ns::max()));
        co_await check(coil::with_timeout(inner(), std::chrono::hours::max()));
        co_await check(coil::with_timeout(inner(), std::chrono::seconds::max()));
        co_await check(coil::with_timeout(inner(), std::chrono::duration<double>(1e300)));
        co_await check(coil::with_timeout(inner(), std::chrono::duration<unsigned long long, std::ratio<86400>>::max()));
        co_await check(coil::with_deadline(inner(), time_point::max()));
        co_await check(coil::with_deadline(inner(), std::chrono::time_point<coil::clock, std::chrono::hours>::max()));
    };
    run_paused(body());
}

// Issue 6, second example: with_timeout(sleep_for(hours::max()), 200ms) reported that the sleep
// finished at once.
TEST_P(SleepTest, AHugeSleepInsideAShortTimeoutTimesOut) {
    auto body = []() -> task<void> {
        const auto start = coil::clock::now();
        auto r = co_await coil::with_timeout(coil::sleep_for(std::chrono::hours::max()), 20ms);
        EXPECT_EQ(r.error(), coil::errc::timed_out);
        EXPECT_GE(coil::clock::now() - start, 20ms);
    };
    run(body());
}

TEST_P(SleepTest, HugeSleepsOfEveryTypeNeverEndBeforeAShortTimeout) {
    auto body = []() -> task<void> {
        auto check = [](auto sleep) -> task<void> {
            const time_point start = coil::now();
            auto r = co_await coil::with_timeout(std::move(sleep), 20ms);
            EXPECT_EQ(r.error(), coil::errc::timed_out);
            EXPECT_EQ(coil::now() - start, 20ms);
        };
        co_await check(coil::sleep_for(std::chrono::hours::max()));
        co_await check(coil::sleep_for(ns::max()));
        co_await check(coil::sleep_for(std::chrono::duration<double>(std::numeric_limits<double>::infinity())));
        co_await check(coil::sleep_until(time_point::max()));
        co_await check(coil::sleep_until(std::chrono::time_point<coil::clock, std::chrono::hours>::max()));
    };
    run_paused(body());
}

TEST_P(SleepTest, ASleepThatNeverExpiresArmsNoTimerAndEndsByCancellation) {
    auto body = []() -> task<void> {
        coil::task_group group;
        coil::result<void> outcome;
        group.spawn([](coil::result<void>& out) -> task<void> {
            out = co_await coil::sleep_for(std::chrono::hours::max());
        }(outcome));
        co_await coil::yield();
        EXPECT_EQ(loop().armed_timers(), 0u);
        group.cancel();
        co_await group.join();
        EXPECT_EQ(outcome.error(), std::errc::operation_canceled);
    };
    run(body());
}

TEST_P(SleepTest, ALoopWaitingOnlyOnASleepThatNeverExpiresReportsTheDeadlock) {
    auto body = []() -> task<void> { (void)co_await coil::sleep_for(ns::max()); };
    EXPECT_THROW(run(body()), std::logic_error);
}

TEST_P(SleepTest, NegativeDurationsAndPastDeadlinesCompleteAtOnce) {
    auto body = []() -> task<void> {
        bool other_ran = false;
        coil::task_group group;
        group.spawn([](bool& ran) -> task<void> {
            ran = true;
            co_return;
        }(other_ran));
        // None of these suspends, so the ready child cannot run in between.
        {
            auto slept = co_await coil::sleep_for(-1h);
            EXPECT_TRUE(slept);
        }
        {
            auto slept = co_await coil::sleep_for(0ns);
            EXPECT_TRUE(slept);
        }
        {
            auto slept = co_await coil::sleep_for(ns::min());
            EXPECT_TRUE(slept);
        }
        {
            auto slept = co_await coil::sleep_for(std::chrono::hours::min());
            EXPECT_TRUE(slept);
        }
        {
            auto slept = co_await coil::sleep_for(std::chrono::duration<double>(-1e300));
            EXPECT_TRUE(slept);
        }
        {
            auto slept = co_await coil::sleep_for(std::chrono::duration<double>(std::nan("")));
            EXPECT_TRUE(slept);
        }
        {
            auto slept = co_await coil::sleep_until(time_point::min());
            EXPECT_TRUE(slept);
        }
        {
            auto slept = co_await coil::sleep_until(std::chrono::time_point<coil::clock, std::chrono::hours>::min());
            EXPECT_TRUE(slept);
        }
        {
            auto slept = co_await coil::sleep_until(coil::now() - 1ns);
            EXPECT_TRUE(slept);
        }
        EXPECT_FALSE(other_ran);
        EXPECT_EQ(loop().armed_timers(), 0u);
        co_await group.join();
        EXPECT_TRUE(other_ran);
    };
    run_paused(body());
}

TEST_P(SleepTest, NegativeLimitsAndPastDeadlinesExpireAtOnce) {
    auto pair = coil::testing::make_socket_pair();
    auto body = [&]() -> task<void> {
        std::byte buf[4];
        const time_point start = coil::now();
        auto a = co_await coil::with_timeout(coil::recv(pair.a.get(), buf), ns::min());
        auto b = co_await coil::with_timeout(coil::recv(pair.a.get(), buf), std::chrono::hours::min());
        auto c = co_await coil::with_timeout(coil::recv(pair.a.get(), buf), -1ms);
        auto d = co_await coil::with_deadline(coil::recv(pair.a.get(), buf), time_point::min());
        auto e = co_await coil::with_deadline(coil::recv(pair.a.get(), buf), start - 1h);
        for (const auto& r : {a, b, c, d, e}) EXPECT_EQ(r.error(), coil::errc::timed_out);
        EXPECT_EQ(coil::now(), start);  // expired at once: the paused clock never moved
        EXPECT_EQ(loop().io_in_flight(), 0u);
    };
    run_paused(body());
    // The cancelled recvs took nothing.
    ASSERT_EQ(::send(pair.b.get(), "q", 1, 0), 1);
    char c = 0;
    EXPECT_EQ(::recv(pair.a.get(), &c, 1, 0), 1);
}

// A finite deadline ~292 years away reaches the backend as a wait of about nanoseconds::max():
// the wait must neither overflow nor return at once; I/O from another thread still ends it.
TEST_P(SleepTest, AWaitOfAlmostNanosecondsMaxStillEndsOnIo) {
    auto pair = coil::testing::make_socket_pair();
    auto body = [&]() -> task<void> {
        std::byte buf[4];
        coil::event_loop::external_work pending(loop());
        std::thread sender([fd = pair.b.get()] {
            std::this_thread::sleep_for(10ms);
            (void)::send(fd, "w", 1, 0);
        });
        const auto far = coil::clock::now() + (ns::max() - coil::clock::now().time_since_epoch() - 1s);
        auto r = co_await coil::with_deadline(coil::recv(pair.a.get(), buf), far);
        sender.join();
        EXPECT_EQ(r.value_or(0), 1u);
    };
    run(body());
}

COIL_INSTANTIATE_BACKEND_TEST(SleepTest);

}  // namespace
