// Description: a task's own cancel token (set_cancel_token) combined with the token of whoever
// starts it, for every combinator and spawner (issue 6, fault 2: task_group::spawn used to
// replace the child's own token, so cancelling it did not stop the child; plain co_await and
// when_all used the own token instead of the parent's, so cancelling the parent did not).
//
// Each test runs a child that sleeps kSleep unless cancelled, cancels one of its two tokens after
// kCancelAfter, and asserts that the child saw operation_canceled and ended well before kSleep.
#include "coil/runtime/cancel.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>

#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/sleep.hpp"
#include "coil/runtime/task.hpp"
#include "coil/runtime/task_group.hpp"
#include "coil/runtime/when_all.hpp"
#include "coil/runtime/when_any.hpp"
#include "coil/runtime/with_timeout.hpp"
#include "support/backend_test.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;

constexpr auto kSleep = 2s;          // what a child that missed the cancellation sleeps
constexpr auto kCancelAfter = 10ms;  // when the test cancels a token
constexpr auto kPrompt = 1s;         // a child that saw the cancellation ended before this

class CancelTokenTest : public coil::testing::BackendTest {};

// The child: sleeps kSleep; yields what the sleep yielded.
task<coil::result<void>> sleeper() { co_return co_await coil::sleep_for(kSleep); }

// Like sleeper(), but records the outcome (for spawners, which drop results).
task<void> recording_sleeper(std::optional<coil::result<void>>& out) {
    out = co_await coil::sleep_for(kSleep);
}

task<void> cancel_after(coil::cancel_source& source, coil::clock::duration delay) {
    co_await coil::sleep_for(delay);
    source.request_cancel();
}

task<coil::result<void>> with_own_token(coil::cancel_source& own) {
    auto t = sleeper();
    t.set_cancel_token(own.token());
    return t;
}

bool is_cancelled(const coil::result<void>& r) {
    return !r && r.error() == std::errc::operation_canceled;
}

// Waits (bounded) until `out` has a value; for children nobody awaits.
task<void> wait_for_outcome(const std::optional<coil::result<void>>& out) {
    const auto limit = coil::clock::now() + 2 * kSleep;
    while (!out && coil::clock::now() < limit) co_await coil::sleep_for(1ms);
}

// ---- plain co_await -----------------------------------------------------------------------

TEST_P(CancelTokenTest, PlainAwaitEndsAChildWhenItsOwnTokenIsCancelled) {
    coil::cancel_source own;
    coil::cancel_source parent;  // never cancelled: the child's own token must still count
    auto body = [&]() -> task<coil::result<void>> {
        coil::spawn(cancel_after(own, kCancelAfter));
        co_return co_await with_own_token(own);
    };
    auto t = body();
    t.set_cancel_token(parent.token());
    const auto start = coil::clock::now();
    EXPECT_TRUE(is_cancelled(run(std::move(t))));
    EXPECT_LT(coil::clock::now() - start, kPrompt);
}

TEST_P(CancelTokenTest, PlainAwaitEndsAChildWithItsOwnTokenWhenTheParentIsCancelled) {
    coil::cancel_source own;  // never cancelled
    coil::cancel_source parent;
    auto body = [&]() -> task<coil::result<void>> {
        coil::spawn(cancel_after(parent, kCancelAfter));
        co_return co_await with_own_token(own);
    };
    auto t = body();
    t.set_cancel_token(parent.token());
    const auto start = coil::clock::now();
    EXPECT_TRUE(is_cancelled(run(std::move(t))));
    EXPECT_LT(coil::clock::now() - start, kPrompt);
}

// ---- when_all -----------------------------------------------------------------------------

TEST_P(CancelTokenTest, WhenAllEndsAChildWhenItsOwnTokenIsCancelled) {
    coil::cancel_source own;
    auto body = [&]() -> task<coil::result<void>> {
        auto [r, ignored] = co_await coil::when_all(with_own_token(own), cancel_after(own, kCancelAfter));
        co_return r;
    };
    const auto start = coil::clock::now();
    EXPECT_TRUE(is_cancelled(run(body())));
    EXPECT_LT(coil::clock::now() - start, kPrompt);
}

TEST_P(CancelTokenTest, WhenAllEndsAChildWithItsOwnTokenWhenTheParentIsCancelled) {
    coil::cancel_source own;
    coil::cancel_source parent;
    auto body = [&]() -> task<coil::result<void>> {
        std::vector<task<coil::result<void>>> children;
        children.push_back(with_own_token(own));
        coil::spawn(cancel_after(parent, kCancelAfter));
        auto results = co_await coil::when_all(std::move(children));
        co_return results[0];
    };
    auto t = body();
    t.set_cancel_token(parent.token());
    const auto start = coil::clock::now();
    EXPECT_TRUE(is_cancelled(run(std::move(t))));
    EXPECT_LT(coil::clock::now() - start, kPrompt);
}

// ---- when_any -----------------------------------------------------------------------------

TEST_P(CancelTokenTest, WhenAnyEndsAChildWhenItsOwnTokenIsCancelled) {
    coil::cancel_source own;
    auto body = [&]() -> task<coil::when_any_result<coil::result<void>>> {
        coil::spawn(cancel_after(own, kCancelAfter));
        // The other child sleeps longer: the one with its own token must finish first, cancelled.
        co_return co_await coil::when_any(with_own_token(own), []() -> task<coil::result<void>> {
            co_return co_await coil::sleep_for(2 * kSleep);
        }());
    };
    const auto start = coil::clock::now();
    auto first = run(body());
    EXPECT_EQ(first.index, 0u);
    EXPECT_TRUE(is_cancelled(first.value));
    EXPECT_LT(coil::clock::now() - start, kPrompt);
}

TEST_P(CancelTokenTest, WhenAnyEndsAChildWithItsOwnTokenWhenTheParentIsCancelled) {
    coil::cancel_source own;
    coil::cancel_source parent;
    auto body = [&]() -> task<coil::when_any_result<coil::result<void>>> {
        coil::spawn(cancel_after(parent, kCancelAfter));
        co_return co_await coil::when_any(with_own_token(own), with_own_token(own));
    };
    auto t = body();
    t.set_cancel_token(parent.token());
    const auto start = coil::clock::now();
    auto first = run(std::move(t));
    EXPECT_TRUE(is_cancelled(first.value));
    EXPECT_LT(coil::clock::now() - start, kPrompt);
}

// ---- task_group::spawn (the reported case) ------------------------------------------------

TEST_P(CancelTokenTest, TaskGroupSpawnKeepsTheChildsOwnToken) {
    coil::cancel_source own;
    std::optional<coil::result<void>> outcome;
    auto body = [&]() -> task<void> {
        coil::task_group group(co_await coil::current_cancel_token());
        auto child = recording_sleeper(outcome);
        child.set_cancel_token(own.token());
        group.spawn(std::move(child));
        group.spawn(cancel_after(own, kCancelAfter));
        co_await group.join();
    };
    const auto start = coil::clock::now();
    run(body());
    ASSERT_TRUE(outcome.has_value());
    EXPECT_TRUE(is_cancelled(*outcome));
    EXPECT_LT(coil::clock::now() - start, kPrompt);
}

TEST_P(CancelTokenTest, TaskGroupSpawnEndsAChildWithItsOwnTokenWhenTheGroupIsCancelled) {
    coil::cancel_source own;
    coil::cancel_source parent;  // the group's parent
    std::optional<coil::result<void>> outcome;
    auto body = [&]() -> task<void> {
        coil::task_group group(parent.token());
        auto child = recording_sleeper(outcome);
        child.set_cancel_token(own.token());
        group.spawn(std::move(child));
        coil::spawn(cancel_after(parent, kCancelAfter));
        co_await group.join();
    };
    const auto start = coil::clock::now();
    run(body());
    ASSERT_TRUE(outcome.has_value());
    EXPECT_TRUE(is_cancelled(*outcome));
    EXPECT_LT(coil::clock::now() - start, kPrompt);
}

// ---- event_loop::spawn / coil::spawn ------------------------------------------------------

TEST_P(CancelTokenTest, SpawnKeepsTheChildsOwnToken) {
    coil::cancel_source own;
    std::optional<coil::result<void>> outcome;
    auto body = [&]() -> task<void> {
        auto child = recording_sleeper(outcome);
        child.set_cancel_token(own.token());
        coil::spawn(std::move(child));
        coil::spawn(cancel_after(own, kCancelAfter));
        co_await wait_for_outcome(outcome);
    };
    const auto start = coil::clock::now();
    run(body());
    ASSERT_TRUE(outcome.has_value());
    EXPECT_TRUE(is_cancelled(*outcome));
    EXPECT_LT(coil::clock::now() - start, kPrompt);
}

TEST_P(CancelTokenTest, CancelSpawnedEndsASpawnedChildWithItsOwnToken) {
    coil::cancel_source own;  // never cancelled
    std::optional<coil::result<void>> outcome;
    coil::event_loop loop(options());
    auto body = [&]() -> task<void> {
        auto child = recording_sleeper(outcome);
        child.set_cancel_token(own.token());
        loop.spawn(std::move(child));
        co_await coil::sleep_for(kCancelAfter);
        loop.cancel_spawned();
        co_await wait_for_outcome(outcome);
    };
    const auto start = coil::clock::now();
    loop.run(body());
    ASSERT_TRUE(outcome.has_value());
    EXPECT_TRUE(is_cancelled(*outcome));
    EXPECT_LT(coil::clock::now() - start, kPrompt);
}

// ---- with_timeout -------------------------------------------------------------------------

TEST_P(CancelTokenTest, WithTimeoutKeepsTheTasksOwnToken) {
    coil::cancel_source own;
    auto body = [&]() -> task<coil::result<void>> {
        coil::spawn(cancel_after(own, kCancelAfter));
        co_return co_await coil::with_timeout(with_own_token(own), 1h);
    };
    const auto start = coil::clock::now();
    const auto r = run(body());
    EXPECT_TRUE(is_cancelled(r));  // the own token, not the deadline: not timed_out
    EXPECT_LT(coil::clock::now() - start, kPrompt);
}

TEST_P(CancelTokenTest, WithTimeoutEndsATaskWithItsOwnTokenAtTheDeadline) {
    coil::cancel_source own;  // never cancelled
    auto body = [&]() -> task<coil::result<void>> {
        co_return co_await coil::with_timeout(with_own_token(own), kCancelAfter);
    };
    const auto start = coil::clock::now();
    const auto r = run(body());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::timed_out);
    EXPECT_LT(coil::clock::now() - start, kPrompt);
}

TEST_P(CancelTokenTest, WithTimeoutEndsATaskWithItsOwnTokenWhenTheCallerIsCancelled) {
    coil::cancel_source own;  // never cancelled
    coil::cancel_source parent;
    auto body = [&]() -> task<coil::result<void>> {
        coil::spawn(cancel_after(parent, kCancelAfter));
        co_return co_await coil::with_timeout(with_own_token(own), 1h);
    };
    auto t = body();
    t.set_cancel_token(parent.token());
    const auto start = coil::clock::now();
    EXPECT_TRUE(is_cancelled(run(std::move(t))));
    EXPECT_LT(coil::clock::now() - start, kPrompt);
}

// ---- run() --------------------------------------------------------------------------------

TEST_P(CancelTokenTest, RunHonoursTheTasksOwnToken) {
    coil::cancel_source own;
    auto body = [&]() -> task<coil::result<void>> {
        coil::spawn(cancel_after(own, kCancelAfter));
        co_return co_await coil::sleep_for(kSleep);
    };
    auto t = body();
    t.set_cancel_token(own.token());
    const auto start = coil::clock::now();
    EXPECT_TRUE(is_cancelled(run(std::move(t))));
    EXPECT_LT(coil::clock::now() - start, kPrompt);
}

// ---- lifetime of the combined scope -------------------------------------------------------

// A finished task follows neither token any more: both sources may die before the task object
// (the cancel_state destructor asserts that nothing is still linked; ASan sees a stale unlink).
TEST_P(CancelTokenTest, AFinishedTaskNoLongerFollowsItsTokens) {
    auto body = []() -> task<void> {
        auto parent = std::make_unique<coil::cancel_source>();
        auto own = std::make_unique<coil::cancel_source>();
        auto child = []() -> task<int> {
            co_await coil::yield();
            co_return 7;
        }();
        child.set_cancel_token(own->token());
        auto outer = [](task<int>& c) -> task<int> { co_return co_await c; }(child);
        outer.set_cancel_token(parent->token());
        const int value = co_await std::move(outer);
        EXPECT_EQ(value, 7);
        own.reset();
        parent.reset();
        EXPECT_TRUE(child.done());
    };
    run(body());
}

// A task destroyed while suspended under its combined scope unlinks from both tokens.
TEST_P(CancelTokenTest, DestroyingASuspendedTaskWithItsOwnTokenUnlinksFromBoth) {
    coil::cancel_source parent;
    coil::cancel_source own;
    auto body = [&]() -> task<void> {
        {
            coil::task_group group(parent.token());
            for (int i = 0; i < 4; ++i) {
                auto child = []() -> task<void> { co_await coil::sleep_for(1h); }();
                child.set_cancel_token(own.token());
                group.spawn(std::move(child));
            }
            co_await coil::sleep_for(1ms);
        }  // destroys the sleeping children
        own.request_cancel();
        parent.request_cancel();  // nothing of the children may be called or touched
    };
    run(body());
}

COIL_INSTANTIATE_BACKEND_TEST(CancelTokenTest);

}  // namespace
