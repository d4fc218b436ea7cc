// when_all, when_any, task_group and with_timeout.
#include "coil/runtime/when_all.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "coil/runtime/io.hpp"
#include "coil/runtime/sleep.hpp"
#include "coil/runtime/task_group.hpp"
#include "coil/runtime/when_any.hpp"
#include "coil/runtime/with_timeout.hpp"
#include "support/backend_test.hpp"
#include "support/sockets.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;

class CombinatorsTest : public coil::testing::BackendTest {};

task<int> value_after(int value, std::chrono::milliseconds delay) {
    co_await coil::sleep_for(delay);
    co_return value;
}

// Sleeps unless cancelled; records whether it saw the cancellation.
task<int> cancellable_sleeper(int value, std::chrono::milliseconds delay, bool& cancelled) {
    auto r = co_await coil::sleep_for(delay);
    cancelled = !r;
    co_return value;
}

TEST_P(CombinatorsTest, WhenAllReturnsEveryValueInArgumentOrder) {
    auto body = []() -> task<void> {
        auto [a, b, c] = co_await coil::when_all(value_after(1, 6ms), value_after(2, 1ms),
                                                 []() -> task<void> { co_return; }());
        EXPECT_EQ(a, 1);
        EXPECT_EQ(b, 2);
        (void)c;
    };
    run(body());
}

TEST_P(CombinatorsTest, WhenAllRunsChildrenConcurrently) {
    auto body = []() -> task<coil::clock::duration> {
        const auto start = coil::clock::now();
        std::vector<task<int>> tasks;
        for (int i = 0; i < 50; ++i) tasks.push_back(value_after(i, 20ms));
        auto values = co_await coil::when_all(std::move(tasks));
        for (int i = 0; i < 50; ++i) EXPECT_EQ(values[i], i);
        co_return coil::clock::now() - start;
    };
    // Sequential would take at least 50 * 20 ms = 1 s; this asserts behaviour (overlap), with
    // a bound far from any timing noise.
    EXPECT_LT(run(body()), 500ms);
}

TEST_P(CombinatorsTest, WhenAllOfSynchronousChildrenCompletesWithoutSuspending) {
    auto body = []() -> task<int> {
        auto [a, b] = co_await coil::when_all([]() -> task<int> { co_return 1; }(),
                                              []() -> task<int> { co_return 2; }());
        co_return a + b;
    };
    EXPECT_EQ(run(body()), 3);
}

TEST_P(CombinatorsTest, WhenAllRethrowsTheFirstExceptionAfterAllFinished) {
    bool slow_finished = false;
    auto slow = [](bool& done) -> task<int> {
        co_await coil::sleep_for(5ms);
        done = true;
        co_return 1;
    };
    auto failing = []() -> task<int> {
        throw std::runtime_error("first");
        co_return 0;
    };
    auto body = [&]() -> task<void> { (void)co_await coil::when_all(failing(), slow(slow_finished)); };
    EXPECT_THROW(run(body()), std::runtime_error);
    EXPECT_TRUE(slow_finished);
}

TEST_P(CombinatorsTest, WhenAnyReturnsTheFirstAndCancelsTheRest) {
    bool loser_cancelled = false;
    auto body = [&]() -> task<void> {
        auto first = co_await coil::when_any(value_after(7, 1ms),
                                             cancellable_sleeper(8, 1h, loser_cancelled));
        EXPECT_EQ(first.index, 0u);
        EXPECT_EQ(first.value, 7);
    };
    run(body());
    // when_any returned only after the loser had finished, having seen the cancellation.
    EXPECT_TRUE(loser_cancelled);
}

TEST_P(CombinatorsTest, WhenAnyCancelsLosersBlockedInIo) {
    auto pair = coil::testing::make_socket_pair();
    auto reader = [](int fd) -> task<int> {
        std::byte buf[8];
        auto r = co_await coil::recv(fd, buf);
        co_return r ? 1 : (r.error() == std::errc::operation_canceled ? -1 : -2);
    };
    auto body = [&]() -> task<void> {
        auto first = co_await coil::when_any(reader(pair.a.get()), value_after(5, 2ms));
        EXPECT_EQ(first.index, 1u);
        EXPECT_EQ(first.value, 5);
    };
    run(body());
    // The cancelled recv took nothing from the socket.
    ASSERT_EQ(::send(pair.b.get(), "x", 1, 0), 1);
    char c = 0;
    EXPECT_EQ(::recv(pair.a.get(), &c, 1, 0), 1);
}

TEST_P(CombinatorsTest, TaskGroupJoinWaitsForAllChildren) {
    int finished = 0;
    auto body = [&]() -> task<void> {
        coil::task_group group;
        for (int i = 0; i < 10; ++i) {
            group.spawn([](int& n, int delay) -> task<void> {
                co_await coil::sleep_for(std::chrono::milliseconds(delay));
                ++n;
            }(finished, i % 3));
        }
        EXPECT_EQ(group.running(), 10u);
        co_await group.join();
        EXPECT_EQ(group.running(), 0u);
    };
    run(body());
    EXPECT_EQ(finished, 10);
}

TEST_P(CombinatorsTest, TaskGroupCancelsSiblingsWhenOneFailsAndRethrows) {
    bool sibling_cancelled = false;
    auto body = [&]() -> task<void> {
        coil::task_group group;
        group.spawn([](bool& cancelled) -> task<void> {
            auto r = co_await coil::sleep_for(1h);
            cancelled = !r;
        }(sibling_cancelled));
        group.spawn([]() -> task<void> {
            co_await coil::sleep_for(1ms);
            throw std::runtime_error("child failed");
        }());
        co_await group.join();
    };
    try {
        run(body());
        FAIL() << "join did not rethrow";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "child failed");
    }
    EXPECT_TRUE(sibling_cancelled);
}

TEST_P(CombinatorsTest, CancellingTheParentCancelsTheGroupItJoins) {
    bool child_cancelled = false;
    coil::cancel_source outer;
    auto body = [&]() -> task<void> {
        coil::task_group group;
        group.spawn([](bool& cancelled) -> task<void> {
            auto r = co_await coil::sleep_for(1h);
            cancelled = !r;
        }(child_cancelled));
        co_await group.join();
    };
    auto canceller = [&]() -> task<void> {
        co_await coil::sleep_for(2ms);
        outer.request_cancel();
    };
    auto main_task = [&]() -> task<void> {
        auto t = body();
        t.set_cancel_token(outer.token());
        co_await coil::when_all(std::move(t), canceller());
    };
    run(main_task());
    EXPECT_TRUE(child_cancelled);
}

TEST_P(CombinatorsTest, WithTimeoutReturnsTimedOutAndCancelsTheOperation) {
    auto pair = coil::testing::make_socket_pair();
    auto body = [&]() -> task<void> {
        std::byte buf[8];
        auto r = co_await coil::with_timeout(coil::recv(pair.a.get(), buf), 5ms);
        EXPECT_FALSE(r);
        EXPECT_EQ(r.error(), std::errc::timed_out);
    };
    run(body());
    ASSERT_EQ(::send(pair.b.get(), "y", 1, 0), 1);
    char c = 0;
    EXPECT_EQ(::recv(pair.a.get(), &c, 1, 0), 1);  // the timed-out recv consumed nothing
}

TEST_P(CombinatorsTest, WithTimeoutPassesThroughAResultThatArrivesInTime) {
    auto pair = coil::testing::make_socket_pair();
    ASSERT_EQ(::send(pair.b.get(), "abc", 3, 0), 3);
    auto body = [&]() -> task<std::size_t> {
        std::byte buf[8];
        auto r = co_await coil::with_timeout(coil::recv(pair.a.get(), buf), 1h);
        co_return r.value();
    };
    EXPECT_EQ(run(body()), 3u);
}

TEST_P(CombinatorsTest, WithTimeoutOnATaskReportsTimedOut) {
    auto body = []() -> task<void> {
        auto late = co_await coil::with_timeout(value_after(1, 1h), 2ms);
        EXPECT_EQ(late.error(), std::errc::timed_out);
        auto early = co_await coil::with_timeout(value_after(2, 0ms), 1h);
        EXPECT_EQ(early.value_or(-1), 2);
    };
    run(body());
}

TEST_P(CombinatorsTest, ParentCancellationIsNotReportedAsATimeout) {
    coil::cancel_source source;
    auto pair = coil::testing::make_socket_pair();
    auto body = [&]() -> task<coil::result<std::size_t>> {
        std::byte buf[8];
        co_return co_await coil::with_timeout(coil::recv(pair.a.get(), buf), 1h);
    };
    auto canceller = [&]() -> task<void> {
        co_await coil::sleep_for(2ms);
        source.request_cancel();
    };
    auto main_task = [&]() -> task<std::error_code> {
        auto t = body();
        t.set_cancel_token(source.token());
        auto [r, ignored] = co_await coil::when_all(std::move(t), canceller());
        co_return r.error();
    };
    EXPECT_EQ(run(main_task()), std::errc::operation_canceled);
}

// Regression: join() used to re-parent the group's cancel scope onto the joiner's token. Joined
// inside with_timeout, the group then kept a link into with_timeout's freed scope.
TEST_P(CombinatorsTest, JoiningAGroupInsideWithTimeoutLeavesNoLinkToTheFreedScope) {
    auto body = []() -> task<void> {
        coil::task_group group(co_await coil::current_cancel_token());
        group.spawn([]() -> task<void> { co_await coil::sleep_for(1ms); }());
        auto joined = co_await coil::with_timeout(group.join(), 1h);
        EXPECT_TRUE(joined);
        group.spawn([]() -> task<void> { co_await coil::sleep_for(1ms); }());
        co_await group.join();
    };  // ~task_group then ~cancel_source: no callback of a freed scope may remain
    run(body());
}

// Regression: a group joined from a task with another token stopped following the parent token
// it was built with.
TEST_P(CombinatorsTest, AGroupFollowsItsParentTokenWhenJoinedUnderAnotherToken) {
    coil::cancel_source parent;  // the group's
    coil::cancel_source other;   // the joining task's
    bool child_cancelled = false;
    auto join = [](coil::task_group& g) -> task<void> { co_await g.join(); };
    auto canceller = [](coil::cancel_source& s) -> task<void> {
        co_await coil::sleep_for(2ms);
        s.request_cancel();
    };
    auto body = [&]() -> task<void> {
        coil::task_group group(parent.token());
        group.spawn([](bool& cancelled) -> task<void> {
            auto r = co_await coil::sleep_for(1h);
            cancelled = !r;
        }(child_cancelled));
        co_await coil::when_all(join(group), canceller(parent));
    };
    auto t = body();
    t.set_cancel_token(other.token());
    run(std::move(t));
    EXPECT_TRUE(child_cancelled);
}

// Regression: when_any's children outlived its cancel scope when a when_any was destroyed
// mid-flight (their I/O cancel hooks then unlinked from a dead scope).
TEST_P(CombinatorsTest, DestroyingAWhenAnyMidFlightDestroysTheChildrenBeforeItsScope) {
    auto p1 = coil::testing::make_socket_pair();
    auto p2 = coil::testing::make_socket_pair();
    auto reader = [](int fd) -> task<int> {
        std::byte buf[8];
        (void)co_await coil::recv(fd, buf);
        co_return fd;
    };
    {
        coil::event_loop loop(options());
        auto main_task = [&]() -> task<void> {
            coil::spawn([](task<int> a, task<int> b) -> task<void> {
                (void)co_await coil::when_any(std::move(a), std::move(b));
            }(reader(p1.a.get()), reader(p2.a.get())));
            co_await coil::sleep_for(2ms);
        };
        loop.run(main_task());
    }  // destroys the spawned when_any while both recvs are in flight
    SUCCEED();
}

COIL_INSTANTIATE_BACKEND_TEST(CombinatorsTest);

}  // namespace
