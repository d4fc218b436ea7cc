// event_loop::stats(): the per-loop counters change as runtime/loop_stats.hpp documents, on both
// backends.
#include "coil/runtime/loop_stats.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <vector>

#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/io.hpp"
#include "coil/runtime/sleep.hpp"
#include "coil/runtime/when_all.hpp"
#include "support/backend_test.hpp"
#include "support/sockets.hpp"

namespace {

using namespace std::chrono_literals;
using coil::backend_kind;
using coil::loop_stats;
using coil::task;

class LoopStatsTest : public coil::testing::BackendTest {};

coil::event_loop& this_loop() { return *coil::event_loop::current(); }

// After one operation through the backend, the io_uring wake-up read is armed (it is submitted
// with the loop's first poll), so later deltas count only the test's own SQEs.
task<void> warm_up() { (void)co_await coil::nop(); }

TEST_P(LoopStatsTest, ARecvThatWaitsCountsItsSyscallsAndOneKernelEnter) {
    auto pair = coil::testing::make_socket_pair();
    auto body = [&]() -> task<std::pair<loop_stats, loop_stats>> {
        co_await warm_up();
        const loop_stats before = this_loop().stats();
        std::array<std::byte, 16> buf{};
        auto reader = [&]() -> task<std::size_t> {
            auto got = co_await coil::recv(pair.b.get(), buf);
            co_return got.value_or(0);
        };
        // Runs after the reader has started (when_all starts its children in order) and sends
        // with a plain syscall, so the loop counts only the reader's work.
        auto writer = [&]() -> task<void> {
            EXPECT_EQ(::send(pair.a.get(), "x", 1, 0), 1);
            co_return;
        };
        auto [got, unused] = co_await coil::when_all(reader(), writer());
        EXPECT_EQ(got, 1u);
        co_return std::pair{before, this_loop().stats()};
    };
    const auto [before, after] = run(body());
    if (backend() == backend_kind::epoll) {
        // recv says EAGAIN, the raw fd is added to the epoll set, one epoll_pwait2 returns its
        // edge (one event), recv is retried and gets the byte.
        EXPECT_EQ(after.op_syscalls - before.op_syscalls, 2u);
        EXPECT_EQ(after.ctl_syscalls - before.ctl_syscalls, 1u);
        EXPECT_EQ(after.kernel_enters - before.kernel_enters, 1u);
        EXPECT_EQ(after.completions - before.completions, 1u);
        EXPECT_EQ(after.reaps - before.reaps, 1u);
        EXPECT_EQ(after.sqes_submitted, 0u);
        EXPECT_EQ(after.submits, 0u);
    } else {
        // The recv's SQE goes in with the loop's wait; the byte is there, so its CQE comes
        // back in that same io_uring_enter.
        EXPECT_EQ(after.sqes_submitted - before.sqes_submitted, 1u);
        EXPECT_EQ(after.submits - before.submits, 1u);
        EXPECT_EQ(after.kernel_enters - before.kernel_enters, 1u);
        EXPECT_EQ(after.completions - before.completions, 1u);
        EXPECT_EQ(after.reaps - before.reaps, 1u);
        EXPECT_EQ(after.op_syscalls, 0u);
    }
}

TEST_P(LoopStatsTest, NSqesSubmittedTogetherCountNAndTheirCompletions) {
    constexpr std::size_t n = 8;
    auto body = [&]() -> task<std::pair<loop_stats, loop_stats>> {
        co_await warm_up();
        const loop_stats before = this_loop().stats();
        std::vector<task<void>> nops;
        for (std::size_t i = 0; i < n; ++i) nops.push_back(warm_up());
        co_await coil::when_all(std::move(nops));
        co_return std::pair{before, this_loop().stats()};
    };
    const auto [before, after] = run(body());
    if (backend() == backend_kind::io_uring) {
        // Eight NOP SQEs, handed over in the one io_uring_enter that waits; a NOP completes as
        // it is submitted, so all eight CQEs are reaped after that enter.
        EXPECT_EQ(after.sqes_submitted - before.sqes_submitted, n);
        EXPECT_EQ(after.submits - before.submits, 1u);
        EXPECT_EQ(after.kernel_enters - before.kernel_enters, 1u);
        EXPECT_EQ(after.completions - before.completions, n);
        EXPECT_EQ(after.reaps - before.reaps, 1u);
    } else {
        // epoll completes a nop at once: no syscall, no wait, nothing to reap.
        EXPECT_EQ(after.kernel_enters, before.kernel_enters);
        EXPECT_EQ(after.op_syscalls, before.op_syscalls);
        EXPECT_EQ(after.completions, before.completions);
    }
}

TEST_P(LoopStatsTest, GaugesFollowOpsTasksTimersAndPoolBuffers) {
    auto pair = coil::testing::make_socket_pair();
    auto body = [&]() -> task<void> {
        coil::event_loop& loop = this_loop();
        const loop_stats idle = loop.stats();
        EXPECT_EQ(idle.ops_in_flight, 0u);
        EXPECT_EQ(idle.tasks_alive, 0u);
        EXPECT_EQ(idle.timers_armed, 0u);
        EXPECT_EQ(idle.pool_buffers_in_use, 0u);

        loop.spawn([](int fd) -> task<void> {
            std::array<std::byte, 4> buf{};
            (void)co_await coil::recv(fd, buf);
        }(pair.b.get()));
        co_await coil::sleep_for(1ms);  // the spawned task starts and waits in its recv
        const loop_stats waiting = loop.stats();
        EXPECT_EQ(waiting.ops_in_flight, 1u);
        EXPECT_EQ(waiting.tasks_alive, 1u);
        EXPECT_EQ(waiting.timers_armed, 0u);

        EXPECT_EQ(::send(pair.a.get(), "x", 1, 0), 1);
        for (int i = 0; i < 1000 && loop.spawned_count() != 0; ++i) co_await coil::sleep_for(1ms);
        const loop_stats done = loop.stats();
        EXPECT_EQ(done.ops_in_flight, 0u);
        EXPECT_EQ(done.tasks_alive, 0u);
        EXPECT_EQ(done.pool_buffers_in_use, 0u);  // held buffers: PooledRecvTest.ReceivesWhatThePeerSent...
    };
    run(body());
}

TEST_P(LoopStatsTest, TimersArmedCountsAPendingSleep) {
    auto body = [&]() -> task<void> {
        coil::event_loop& loop = this_loop();
        loop.spawn([]() -> task<void> { co_await coil::sleep_for(1h); }());
        co_await coil::sleep_for(1ms);
        EXPECT_EQ(loop.stats().timers_armed, 1u);
        EXPECT_EQ(loop.stats().tasks_alive, 1u);
        loop.cancel_spawned();
        for (int i = 0; i < 1000 && loop.spawned_count() != 0; ++i) co_await coil::sleep_for(1ms);
        EXPECT_EQ(loop.stats().timers_armed, 0u);
        EXPECT_EQ(loop.stats().tasks_alive, 0u);
    };
    run(body());
}

TEST(LoopStatsFormat, OneLineOfKeyValuesInFieldOrder) {
    loop_stats s;
    s.kernel_enters = 1;
    s.op_syscalls = 2;
    s.ctl_syscalls = 3;
    s.sqes_submitted = 4;
    s.submits = 5;
    s.completions = 6;
    s.reaps = 7;
    s.ops_in_flight = 8;
    s.tasks_alive = 9;
    s.timers_armed = 10;
    s.pool_buffers_in_use = 11;
    EXPECT_EQ(coil::to_key_values(s),
              "kernel_enters=1 op_syscalls=2 ctl_syscalls=3 sqes_submitted=4 submits=5 "
              "completions=6 reaps=7 ops_in_flight=8 tasks_alive=9 timers_armed=10 "
              "pool_buffers_in_use=11");
}

COIL_INSTANTIATE_BACKEND_TEST(LoopStatsTest);

}  // namespace
