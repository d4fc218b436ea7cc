#include "coil/runtime/task.hpp"

#include <gtest/gtest.h>

#include <coroutine>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/sleep.hpp"

namespace {

using coil::task;

static_assert(!std::is_copy_constructible_v<task<int>>, "task is move-only");
static_assert(std::is_nothrow_move_constructible_v<task<int>>);

task<int> forty_two() { co_return 42; }

task<int> add_one(task<int> inner) { co_return co_await std::move(inner) + 1; }

task<void> throws_runtime_error() {
    throw std::runtime_error("boom");
    co_return;
}

TEST(TaskTest, ReturnsTheValueOfCoReturn) { EXPECT_EQ(coil::run(add_one(forty_two())), 43); }

TEST(TaskTest, IsLazyUntilAwaited) {
    bool started = false;
    auto body = [](bool& flag) -> task<void> {
        flag = true;
        co_return;
    };
    {
        task<void> t = body(started);
        EXPECT_FALSE(started);
    }  // destroyed without running
    EXPECT_FALSE(started);
    coil::run(body(started));
    EXPECT_TRUE(started);
}

TEST(TaskTest, ExceptionPropagatesToTheAwaiter) {
    auto outer = []() -> task<std::string> {
        try {
            co_await throws_runtime_error();
        } catch (const std::runtime_error& e) {
            co_return std::string("caught ") + e.what();
        }
        co_return "not thrown";
    };
    EXPECT_EQ(coil::run(outer()), "caught boom");
}

TEST(TaskTest, RunRethrowsAnExceptionThatEscapesTheTask) {
    EXPECT_THROW(coil::run(throws_runtime_error()), std::runtime_error);
}

TEST(TaskTest, MoveOnlyResultIsMovedOut) {
    auto make = []() -> task<std::unique_ptr<int>> { co_return std::make_unique<int>(5); };
    auto p = coil::run(make());
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, 5);
}

task<int> completes_synchronously(int i) { co_return i & 1; }

TEST(TaskTest, AMillionSynchronousAwaitsDoNotGrowTheStack) {
    // Symmetric transfer at both ends: with plain resume() this recursion would overflow the
    // stack long before a million iterations.
    auto loop = []() -> task<long> {
        long sum = 0;
        for (int i = 0; i < 1'000'000; ++i) sum += co_await completes_synchronously(i);
        co_return sum;
    };
    EXPECT_EQ(coil::run(loop()), 500'000);
}

TEST(TaskTest, DestroyingAnUnstartedTaskDestroysItsArguments) {
    auto counter = std::make_shared<int>(0);
    auto hold = [](std::shared_ptr<int> p) -> task<void> {
        ++*p;
        co_return;
    };
    {
        task<void> t = hold(counter);
        EXPECT_EQ(counter.use_count(), 2);
    }
    EXPECT_EQ(counter.use_count(), 1);
    EXPECT_EQ(*counter, 0);
}

TEST(TaskTest, AwaitingAMovedFromTaskIsALogicError) {
    auto outer = []() -> task<void> {
        task<int> a = forty_two();
        task<int> b = std::move(a);
        (void)co_await std::move(b);
        (void)co_await std::move(a);  // NOLINT(bugprone-use-after-move): the point of the test
    };
    EXPECT_THROW(coil::run(outer()), std::logic_error);
}

struct never_resumes {
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    void await_resume() const noexcept {}
};

TEST(TaskTest, RunReportsATaskThatCanNeverFinish) {
    auto stuck = []() -> task<void> { co_await never_resumes{}; };
    EXPECT_THROW(coil::run(stuck()), std::logic_error);
}

TEST(TaskTest, CurrentCancelTokenIsTheOneGivenToTheTask) {
    coil::cancel_source source;
    auto probe = []() -> task<bool> {
        auto token = co_await coil::current_cancel_token();
        co_return token.cancel_requested();
    };
    auto t = probe();
    t.set_cancel_token(source.token());
    source.request_cancel();
    EXPECT_TRUE(coil::run(std::move(t)));
}

}  // namespace
