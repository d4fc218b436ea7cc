// Description: signal_set lifetimes (issue 6, fault 3). With two sets for SIGUSR1, destroying the
// first one created unblocked SIGUSR1 although the second still waited for it, and the next
// SIGUSR1 killed the process instead of reaching the second set's wait(). A signal still pending
// when the last set went away was likewise delivered with its default action. Each test runs in a
// forked child, where a wrong outcome kills that child, not the test binary.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/signal_set.hpp"
#include "coil/runtime/sleep.hpp"
#include "coil/runtime/task_group.hpp"
#include "coil/runtime/with_timeout.hpp"
#include "support/backend_test.hpp"
#include "support/child_process.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;

constexpr auto kChildLimit = 10s;   // the whole forked child
constexpr auto kWaitLimit = 3s;     // one wait() for a signal that was sent

class SignalSetLifetimeTest : public coil::testing::BackendTest {
protected:
    // Runs `body` in a forked child on this test's backend, with SIGUSR1 and SIGUSR2 unblocked and
    // at their default action (terminate), so that a wrongly delivered signal kills the child.
    template <class Body>
    coil::testing::fork_outcome in_child(Body body) {
        const coil::loop_options opts = options();
        return coil::testing::run_in_fork(
            [&]() -> int {
                sigset_t both;
                sigemptyset(&both);
                sigaddset(&both, SIGUSR1);
                sigaddset(&both, SIGUSR2);
                pthread_sigmask(SIG_UNBLOCK, &both, nullptr);
                ::signal(SIGUSR1, SIG_DFL);
                ::signal(SIGUSR2, SIG_DFL);
                return body(opts);
            },
            std::chrono::duration_cast<std::chrono::milliseconds>(kChildLimit));
    }
};

bool blocked(int signo) {
    sigset_t current;
    pthread_sigmask(SIG_BLOCK, nullptr, &current);
    return sigismember(&current, signo) == 1;
}

bool pending(int signo) {
    sigset_t set;
    sigpending(&set);
    return sigismember(&set, signo) == 1;
}

std::unique_ptr<coil::signal_set> make_set(int signo) {
    return std::make_unique<coil::signal_set>(std::initializer_list<int>{signo});
}

std::string describe(const coil::testing::fork_outcome& o) {
    if (o.timed_out) return "the child timed out";
    if (o.killed_by) return "the child was killed by signal " + std::to_string(*o.killed_by);
    return "the child exited with " + std::to_string(o.exit_code.value_or(-1));
}

// The reported case: the first of two sets is destroyed first; the second still gets the signal.
TEST_P(SignalSetLifetimeTest, DestroyingTheFirstOfTwoSetsKeepsTheSignalForTheSecond) {
    const auto outcome = in_child([](coil::loop_options opts) {
        auto body = []() -> task<int> {
            auto first = make_set(SIGUSR1);
            auto second = make_set(SIGUSR1);
            first.reset();
            if (!blocked(SIGUSR1)) co_return 2;
            ::kill(::getpid(), SIGUSR1);
            auto got = co_await coil::with_timeout(second->wait(), kWaitLimit);
            if (!got || *got != SIGUSR1) co_return 3;
            second.reset();
            co_return blocked(SIGUSR1) ? 4 : 0;  // the last set restored the mask
        };
        return coil::run(body(), opts);
    });
    EXPECT_EQ(outcome.exit_code, 0) << describe(outcome);
}

// The same while the second set's wait() is in flight, and with a set made and destroyed
// meanwhile.
TEST_P(SignalSetLifetimeTest, ASetDestroyedWhileAnotherWaitsLeavesTheSignalToIt) {
    const auto outcome = in_child([](coil::loop_options opts) {
        auto waiter = [](coil::signal_set& set, int& got) -> task<void> {
            auto r = co_await coil::with_timeout(set.wait(), kWaitLimit);
            got = r.value_or(-1);
        };
        auto body = [&]() -> task<int> {
            auto older = make_set(SIGUSR1);
            auto waiting = make_set(SIGUSR1);
            int got = 0;
            coil::task_group group;
            group.spawn(waiter(*waiting, got));
            co_await coil::sleep_for(1ms);  // the wait is in flight
            { coil::signal_set transient({SIGUSR1}); }
            older.reset();
            ::kill(::getpid(), SIGUSR1);
            co_await group.join();
            co_return got == SIGUSR1 ? 0 : 3;
        };
        return coil::run(body(), opts);
    });
    EXPECT_EQ(outcome.exit_code, 0) << describe(outcome);
}

// A signal raised while a set lived but never read is discarded when the last set goes away,
// not delivered with its default action by the unblocking.
TEST_P(SignalSetLifetimeTest, ASignalPendingWhenTheLastSetGoesAwayIsDiscardedNotDelivered) {
    const auto outcome = in_child([](coil::loop_options opts) {
        auto body = []() -> task<int> {
            {
                auto first = make_set(SIGUSR1);
                auto second = make_set(SIGUSR1);
                ::raise(SIGUSR1);
                if (!pending(SIGUSR1)) co_return 2;
                first.reset();
                if (!pending(SIGUSR1)) co_return 3;  // a set still lives: still for it to read
            }
            co_return (!blocked(SIGUSR1) && !pending(SIGUSR1)) ? 0 : 4;
        };
        return coil::run(body(), opts);
    });
    EXPECT_EQ(outcome.exit_code, 0) << describe(outcome);
}

// A signal the application had blocked before the first set stays blocked, and what is pending
// for it stays pending (it is the application's).
TEST_P(SignalSetLifetimeTest, ASignalBlockedBeforeTheFirstSetStaysBlockedAndPending) {
    const auto outcome = in_child([](coil::loop_options opts) {
        sigset_t usr2;
        sigemptyset(&usr2);
        sigaddset(&usr2, SIGUSR2);
        pthread_sigmask(SIG_BLOCK, &usr2, nullptr);
        auto body = []() -> task<int> {
            { coil::signal_set set({SIGUSR2}); ::raise(SIGUSR2); }
            co_return (blocked(SIGUSR2) && pending(SIGUSR2)) ? 0 : 2;
        };
        const int code = coil::run(body(), opts);
        const timespec no_wait{};
        return (code == 0 && ::sigtimedwait(&usr2, nullptr, &no_wait) == SIGUSR2) ? 0 : 3;
    });
    EXPECT_EQ(outcome.exit_code, 0) << describe(outcome);
}

// Sets on two threads (each with its loop): the main thread's set goes first; a signal sent to
// the process must still reach the other thread's set, not the main thread's default action.
TEST_P(SignalSetLifetimeTest, ASetOnAnotherThreadKeepsTheSignalWhenTheMainThreadsSetGoes) {
    const auto outcome = in_child([](coil::loop_options opts) {
        coil::event_loop loop(opts);
        auto main_set = make_set(SIGUSR1);  // blocks SIGUSR1 here; the thread inherits it
        std::atomic<bool> ready{false};
        int got = 0;
        std::thread other([&] {
            auto body = [&]() -> task<void> {
                coil::signal_set set({SIGUSR1});
                ready = true;
                auto r = co_await coil::with_timeout(set.wait(), kWaitLimit);
                got = r.value_or(-1);
            };
            coil::run(body(), opts);
        });
        const auto limit = std::chrono::steady_clock::now() + kWaitLimit;
        while (!ready && std::chrono::steady_clock::now() < limit) std::this_thread::sleep_for(1ms);
        main_set.reset();
        ::kill(::getpid(), SIGUSR1);
        other.join();
        return got == SIGUSR1 ? 0 : 3;
    });
    EXPECT_EQ(outcome.exit_code, 0) << describe(outcome);
}

TEST(SignalSetErrorsTest, AnInvalidSignalNumberThrowsAndLeavesTheMaskAlone) {
    coil::event_loop loop;
    EXPECT_THROW(coil::signal_set({0}), std::system_error);
    EXPECT_THROW(coil::signal_set({SIGUSR1, NSIG}), std::system_error);
    EXPECT_FALSE(blocked(SIGUSR1));
}

TEST(SignalSetErrorsTest, WithoutALoopTheConstructorThrowsAndLeavesTheMaskAlone) {
    ASSERT_EQ(coil::event_loop::current(), nullptr);
    EXPECT_THROW(coil::signal_set({SIGUSR1}), std::logic_error);
    EXPECT_FALSE(blocked(SIGUSR1));
    // And the registry holds no claim: a set made now blocks it and gives it back.
    coil::event_loop loop;
    { coil::signal_set set({SIGUSR1}); EXPECT_TRUE(blocked(SIGUSR1)); }
    EXPECT_FALSE(blocked(SIGUSR1));
}

COIL_INSTANTIATE_BACKEND_TEST(SignalSetLifetimeTest);

}  // namespace
