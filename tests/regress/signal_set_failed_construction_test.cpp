// Description: a signal_set constructor that fails (no event loop on the thread, or signalfd(2)
// failing with EMFILE/ENFILE) promises to leave the signal mask as it was (signal_set.hpp). It
// blocked the signals in the calling thread first and, on failure, only dropped its claim in the
// process registry, which unblocks a signal when its LAST claim goes away. With a set for the same
// signal alive on another thread, the failing thread was left with the signal blocked for good: a
// signal meant for it (SIGUSR2 sent with pthread_kill, its handler, ...) then sat pending forever.
// Now a failed constructor restores the calling thread's mask for the signals it had blocked.
// Runs in a forked child: the test process's own mask is never changed.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <future>
#include <optional>
#include <stdexcept>
#include <thread>

#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/signal_set.hpp"
#include "support/child_process.hpp"

namespace {

using namespace std::chrono_literals;

bool blocked(int signo) {
    sigset_t current;
    pthread_sigmask(SIG_BLOCK, nullptr, &current);
    return sigismember(&current, signo) == 1;
}

TEST(SignalSetFailedConstructionTest, AFailedConstructorLeavesTheMaskAsItWasWhileAnotherThreadHoldsASet) {
    const auto outcome = coil::testing::run_in_fork(
        []() -> int {
            sigset_t usr2;
            sigemptyset(&usr2);
            sigaddset(&usr2, SIGUSR2);
            pthread_sigmask(SIG_UNBLOCK, &usr2, nullptr);
            std::promise<void> holding;
            std::promise<void> release;
            std::thread other([&] {
                coil::event_loop loop;
                std::optional<coil::signal_set> set(std::in_place, std::initializer_list<int>{SIGUSR2});
                holding.set_value();
                release.get_future().wait();
            });
            holding.get_future().wait();
            int code = 0;
            if (blocked(SIGUSR2)) code = 2;  // the other thread's set must not change ours
            try {
                coil::signal_set here({SIGUSR2});  // this thread has no event loop: throws
                code = 3;
            } catch (const std::logic_error&) {
                if (blocked(SIGUSR2)) code = 4;  // the bug: left blocked in this thread
            }
            release.set_value();
            other.join();
            return code;
        },
        std::chrono::duration_cast<std::chrono::milliseconds>(10s));
    ASSERT_FALSE(outcome.timed_out);
    ASSERT_TRUE(outcome.exit_code.has_value()) << "killed by signal " << outcome.killed_by.value_or(0);
    EXPECT_NE(*outcome.exit_code, 4) << "SIGUSR2 stayed blocked in the thread whose constructor failed";
    EXPECT_EQ(*outcome.exit_code, 0);
}

}  // namespace
