#include "coil/runtime/signal_set.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <memory>

#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/sleep.hpp"
#include "coil/runtime/task_group.hpp"
#include "support/backend_test.hpp"

namespace {

using coil::task;

class SignalSetTest : public coil::testing::BackendTest {};

bool blocked(int signo) {
    sigset_t current;
    pthread_sigmask(SIG_BLOCK, nullptr, &current);
    return sigismember(&current, signo) == 1;
}

TEST_P(SignalSetTest, DeliversARaisedSignalThroughTheLoop) {
    auto body = []() -> task<int> {
        coil::signal_set signals({SIGUSR1});
        ::raise(SIGUSR1);  // blocked, so it waits in the signalfd instead of killing us
        auto got = co_await signals.wait();
        co_return got.value_or(-1);
    };
    EXPECT_EQ(run(body()), SIGUSR1);
}

TEST_P(SignalSetTest, RestoresTheSignalMaskWhenDestroyed) {
    ASSERT_FALSE(blocked(SIGUSR2));
    auto body = []() -> task<bool> {
        bool inside = false;
        {
            coil::signal_set signals({SIGUSR2});
            inside = blocked(SIGUSR2);
        }
        co_return inside;
    };
    EXPECT_TRUE(run(body()));
    EXPECT_FALSE(blocked(SIGUSR2));
}

// Regression: a set restored the whole mask it saw at construction, so destroying sets out of
// order unblocked a signal another living set still relied on.
TEST_P(SignalSetTest, DestroyingSetsOutOfOrderKeepsTheLivingSetsSignalsBlocked) {
    auto body = []() -> task<bool> {
        auto first = std::make_unique<coil::signal_set>(std::initializer_list<int>{SIGUSR1});
        auto second = std::make_unique<coil::signal_set>(std::initializer_list<int>{SIGUSR2});
        first.reset();  // the older one goes first
        const bool still = blocked(SIGUSR2) && !blocked(SIGUSR1);
        second.reset();
        co_return still && !blocked(SIGUSR2);
    };
    EXPECT_TRUE(run(body()));
}

TEST_P(SignalSetTest, AWaitIsCancellable) {
    auto body = []() -> task<std::error_code> {
        coil::signal_set signals({SIGUSR1});
        coil::task_group group;
        std::error_code outcome;
        group.spawn([](coil::signal_set& s, std::error_code& out) -> task<void> {
            auto r = co_await s.wait();
            out = r.error();
        }(signals, outcome));
        co_await coil::sleep_for(std::chrono::milliseconds(2));
        group.cancel();
        co_await group.join();
        co_return outcome;
    };
    EXPECT_EQ(run(body()), std::errc::operation_canceled);
}

COIL_INSTANTIATE_BACKEND_TEST(SignalSetTest);

}  // namespace
