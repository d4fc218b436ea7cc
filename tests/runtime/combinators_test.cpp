// when_all, when_any, task_group and with_timeout.
#include "coil/runtime/when_all.hpp"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "coil/runtime/errc.hpp"
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
    run_paused(body());
}

TEST_P(CombinatorsTest, WhenAllRunsChildrenConcurrently) {
    auto body = []() -> task<coil::clock::duration> {
        const auto start = coil::now();
        std::vector<task<int>> tasks;
        for (int i = 0; i < 50; ++i) tasks.push_back(value_after(i, 20ms));
        auto values = co_await coil::when_all(std::move(tasks));
        for (int i = 0; i < 50; ++i) EXPECT_EQ(values[i], i);
        co_return coil::now() - start;
    };
    // On the paused clock: concurrent sleeps take exactly 20 ms of loop time; one after the
    // other would take 50 * 20 ms.
    EXPECT_EQ(run_paused(body()), 20ms);
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
    EXPECT_THROW(run_paused(body()), std::runtime_error);
    EXPECT_TRUE(slow_finished);
}

TEST_P(CombinatorsTest, WhenAnyReturnsTheFirstAndCancelsTheRest) {
    bool loser_cancelled = false;
    auto body = [&]() -> task<void> {
        const auto start = coil::now();
        auto first = co_await coil::when_any(value_after(7, 1ms),
                                             cancellable_sleeper(8, 1h, loser_cancelled));
        EXPECT_EQ(first.index, 0u);
        EXPECT_EQ(first.value, 7);
        // Promptly: the paused clock never went on to the loser's hour.
        EXPECT_EQ(coil::now() - start, 1ms);
        EXPECT_EQ(coil::event_loop::current()->armed_timers(), 0u);
    };
    run_paused(body());
    // when_any returned only after the loser had finished, having seen the cancellation.
    EXPECT_TRUE(loser_cancelled);
}

TEST_P(CombinatorsTest, WhenAnyCancelsLosersBlockedInIo) {
    auto pair = coil::testing::make_socket_pair();
    std::error_code loser_error;  // when_any drops the loser's value: it reports here
    auto reader = [](int fd, std::error_code& error) -> task<int> {
        std::byte buf[8];
        auto r = co_await coil::recv(fd, buf);
        error = r ? std::error_code() : r.error();
        co_return r ? 1 : -1;
    };
    auto body = [&]() -> task<void> {
        const auto start = coil::now();
        // The outer limit turns a loser that is never cancelled (when_any would wait for the
        // socket forever) into a prompt failure below instead of a hang.
        auto first = co_await coil::with_timeout(
            coil::when_any(reader(pair.a.get(), loser_error), value_after(5, 2ms)), 10s);
        if (!first) {
            ADD_FAILURE() << "when_any did not return: its loser was not cancelled";
            co_return;
        }
        EXPECT_EQ(first->index, 1u);
        EXPECT_EQ(first->value, 5);
        // The loser ended (when_any awaited it) promptly, with operation_canceled.
        EXPECT_EQ(coil::now() - start, 2ms);
        EXPECT_EQ(coil::event_loop::current()->io_in_flight(), 0u);
    };
    run_paused(body());
    EXPECT_EQ(loser_error, std::errc::operation_canceled) << loser_error.message();
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
    run_paused(body());
    EXPECT_EQ(finished, 10);
}

TEST_P(CombinatorsTest, TaskGroupCancelsSiblingsWhenOneFailsAndRethrows) {
    bool sibling_cancelled = false;
    coil::clock::duration took{};
    auto body = [&]() -> task<void> {
        const auto start = coil::now();
        struct record_time {
            coil::clock::time_point start;
            coil::clock::duration& took;
            ~record_time() { took = coil::now() - start; }
        } record{start, took};
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
        run_paused(body());
        FAIL() << "join did not rethrow";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "child failed");
    }
    EXPECT_TRUE(sibling_cancelled);
    EXPECT_EQ(took, 1ms);  // promptly: not after the sibling's hour
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
        const auto start = coil::now();
        auto t = body();
        t.set_cancel_token(outer.token());
        co_await coil::when_all(std::move(t), canceller());
        EXPECT_EQ(coil::now() - start, 2ms);  // promptly: not after the child's hour
    };
    run_paused(main_task());
    EXPECT_TRUE(child_cancelled);
}

TEST_P(CombinatorsTest, WithTimeoutReturnsTimedOutAndCancelsTheOperation) {
    auto pair = coil::testing::make_socket_pair();
    auto body = [&]() -> task<void> {
        std::byte buf[8];
        const auto start = coil::now();
        auto r = co_await coil::with_timeout(coil::recv(pair.a.get(), buf), 5ms);
        EXPECT_FALSE(r);
        EXPECT_EQ(r.error(), coil::errc::timed_out);
        EXPECT_EQ(coil::now() - start, 5ms);
        EXPECT_EQ(coil::event_loop::current()->io_in_flight(), 0u);
        EXPECT_EQ(coil::event_loop::current()->armed_timers(), 0u);
    };
    run_paused(body());
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
        EXPECT_EQ(late.error(), coil::errc::timed_out);
        auto early = co_await coil::with_timeout(value_after(2, 0ms), 1h);
        EXPECT_EQ(early.value_or(-1), 2);
    };
    run_paused(body());
}

// Issue 7: an expired with_timeout said "Connection timed out" (ETIMEDOUT), with no connection
// involved. It is now coil's own code, which still matches the portable condition.
TEST_P(CombinatorsTest, WithTimeoutReportsAnExpiredDeadlineNotAConnectionTimeout) {
    auto body = []() -> task<std::error_code> {
        auto r = co_await coil::with_timeout(coil::sleep_for(1h), 1ms);
        co_return r.error();
    };
    const std::error_code e = run_paused(body());
    EXPECT_EQ(e, coil::errc::timed_out);
    EXPECT_EQ(&e.category(), &coil::coil_category());
    EXPECT_EQ(e.message(), "deadline expired");
    EXPECT_TRUE(e == std::errc::timed_out);  // existing callers' check keeps working
    EXPECT_NE(e, std::make_error_code(std::errc::timed_out));  // but it is not ETIMEDOUT
    EXPECT_EQ(e.default_error_condition(), std::errc::timed_out);
}

TEST(CoilErrcTest, TimedOutMatchesTheTimedOutConditionAndNothingElse) {
    const std::error_code deadline = coil::errc::timed_out;
    const std::error_code kernel(ETIMEDOUT, std::system_category());
    EXPECT_TRUE(deadline == std::errc::timed_out);
    EXPECT_TRUE(kernel == std::errc::timed_out);
    EXPECT_FALSE(kernel == coil::errc::timed_out);
    EXPECT_FALSE(deadline == std::errc::operation_canceled);
    EXPECT_FALSE(deadline == coil::errc::eof);
    const std::error_code eof = coil::errc::eof;
    EXPECT_FALSE(eof == std::errc::timed_out);
    EXPECT_EQ(eof.message(), "end of stream");
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
    EXPECT_EQ(run_paused(main_task()), std::errc::operation_canceled);
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
    run_paused(body());
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
    run_paused(std::move(t));
    EXPECT_TRUE(child_cancelled);
}

// Regression: when_any's children outlived its cancel scope when a when_any was destroyed
// mid-flight (their I/O cancel hooks then unlinked from a dead scope). Was one test ending in
// SUCCEED(); now the loop's counters show the children's I/O drained, and the sockets show that
// the abandoned recvs took nothing.
task<int> read_one(int fd) {
    std::byte buf[8];
    (void)co_await coil::recv(fd, buf);
    co_return fd;
}

void expect_unread(int writer, int reader) {
    ASSERT_EQ(::send(writer, "k", 1, 0), 1);
    char c = 0;
    EXPECT_EQ(::recv(reader, &c, 1, MSG_DONTWAIT), 1) << "a destroyed recv consumed the byte";
}

TEST_P(CombinatorsTest, DestroyingAWhenAnyMidFlightDrainsTheChildrensIo) {
    auto p1 = coil::testing::make_socket_pair();
    auto p2 = coil::testing::make_socket_pair();
    auto body = [&]() -> task<void> {
        coil::event_loop& loop = coil::event_loop::current_or_throw();
        {
            coil::task_group group;
            group.spawn([](task<int> a, task<int> b) -> task<void> {
                (void)co_await coil::when_any(std::move(a), std::move(b));
            }(read_one(p1.a.get()), read_one(p2.a.get())));
            co_await coil::sleep_for(2ms);
            EXPECT_EQ(loop.io_in_flight(), 2u);  // both recvs are waiting
        }  // destroys the when_any, its children and its scope, in that order
        EXPECT_EQ(loop.io_in_flight(), 0u);
        EXPECT_EQ(loop.armed_timers(), 0u);
        co_await coil::sleep_for(1ms);  // the loop runs on without a stale node
    };
    run_paused(body());
    expect_unread(p1.b.get(), p1.a.get());
    expect_unread(p2.b.get(), p2.a.get());
}

TEST_P(CombinatorsTest, DestroyingTheLoopUnderAWhenAnyMidFlightDrainsTheChildrensIo) {
    auto p1 = coil::testing::make_socket_pair();
    auto p2 = coil::testing::make_socket_pair();
    {
        coil::event_loop loop(paused_options());
        auto main_task = [&]() -> task<void> {
            coil::spawn([](task<int> a, task<int> b) -> task<void> {
                (void)co_await coil::when_any(std::move(a), std::move(b));
            }(read_one(p1.a.get()), read_one(p2.a.get())));
            co_await coil::sleep_for(2ms);
        };
        loop.run(main_task());
        EXPECT_EQ(loop.spawned_count(), 1u);
        EXPECT_EQ(loop.io_in_flight(), 2u);
    }  // destroys the spawned when_any while both recvs are in flight
    expect_unread(p1.b.get(), p1.a.get());
    expect_unread(p2.b.get(), p2.a.get());
}

COIL_INSTANTIATE_BACKEND_TEST(CombinatorsTest);

}  // namespace
