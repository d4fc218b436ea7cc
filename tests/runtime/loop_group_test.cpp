// loop_group (thread-per-core loops) and switch_to, on both backends; also run under TSan.
#include "coil/runtime/loop_group.hpp"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <cerrno>
#include <chrono>
#include <coroutine>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include "coil/net/tcp_connect.hpp"
#include "coil/net/tcp_listener.hpp"
#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/sleep.hpp"
#include "coil/runtime/switch_to.hpp"
#include "coil/runtime/sync/event.hpp"
#include "coil/runtime/task.hpp"
#include "support/backend_test.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;

class LoopGroupTest : public coil::testing::BackendTest {
protected:
    coil::loop_group_options group_options(std::size_t threads) const {
        coil::loop_group_options o;
        o.threads = threads;
        o.loop = options();
        return o;
    }
};

// Waits (on a loop) until the group asks this task to stop; true if it was cancelled.
task<bool> wait_for_stop() {
    auto slept = co_await coil::sleep_for(1h);
    co_return !slept && slept.error() == std::errc::operation_canceled;
}

// The first CPU this process may run on, or -1.
int first_allowed_cpu() {
    cpu_set_t set;
    if (::sched_getaffinity(0, sizeof(set), &set) != 0) return -1;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (CPU_ISSET(cpu, &set)) return cpu;
    }
    return -1;
}

TEST_P(LoopGroupTest, EachLoopRunsOnItsOwnThreadAndLoop) {
    constexpr std::size_t n = 3;
    std::mutex mutex;
    std::vector<std::thread::id> ids(n);
    std::vector<coil::event_loop*> loops(n, nullptr);
    std::vector<coil::backend_kind> backends(n);
    std::atomic<int> cancelled{0};
    std::promise<void> all_started;
    std::atomic<std::size_t> started{0};
    coil::loop_group group(group_options(n), [&](std::size_t i) -> task<void> {
        {
            std::lock_guard lock(mutex);
            ids[i] = std::this_thread::get_id();
            loops[i] = coil::event_loop::current();
            backends[i] = loops[i]->backend();
        }
        if (started.fetch_add(1) + 1 == n) all_started.set_value();
        const bool stopped = co_await wait_for_stop();
        if (stopped) cancelled.fetch_add(1);
    });
    ASSERT_EQ(group.size(), n);
    std::vector<coil::event_loop*> expected;
    for (std::size_t i = 0; i < n; ++i) expected.push_back(&group.loop(i));
    ASSERT_EQ(all_started.get_future().wait_for(20s), std::future_status::ready);
    group.stop();
    EXPECT_EQ(cancelled.load(), static_cast<int>(n));
    std::set<std::thread::id> distinct(ids.begin(), ids.end());
    EXPECT_EQ(distinct.size(), n);
    EXPECT_EQ(distinct.count(std::this_thread::get_id()), 0U);
    for (std::size_t i = 0; i < n; ++i) {
        EXPECT_EQ(loops[i], expected[i]) << "loop " << i;
        EXPECT_EQ(backends[i], backend()) << "loop " << i;  // (the loops are gone by now)
    }
    std::set<coil::event_loop*> distinct_loops(loops.begin(), loops.end());
    EXPECT_EQ(distinct_loops.size(), n);
}

TEST_P(LoopGroupTest, PinningPutsEachThreadOnItsCpu) {
    const int cpu = first_allowed_cpu();
    ASSERT_GE(cpu, 0);
    auto o = group_options(2);
    o.cpus = {cpu};
    std::mutex mutex;
    std::vector<int> allowed_counts;
    std::vector<bool> on_cpu;
    std::vector<int> running_on;
    coil::loop_group group(o, [&](std::size_t) -> task<void> {
        cpu_set_t set;
        CPU_ZERO(&set);
        const int rc = ::pthread_getaffinity_np(::pthread_self(), sizeof(set), &set);
        std::lock_guard lock(mutex);
        allowed_counts.push_back(rc == 0 ? CPU_COUNT(&set) : -1);
        on_cpu.push_back(rc == 0 && CPU_ISSET(cpu, &set));
        running_on.push_back(::sched_getcpu());
        co_return;
    });
    group.join();
    ASSERT_EQ(allowed_counts.size(), 2U);
    for (std::size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(allowed_counts[i], 1);
        EXPECT_TRUE(on_cpu[i]);
        EXPECT_EQ(running_on[i], cpu);
    }
}

TEST_P(LoopGroupTest, AnInvalidCpuIsAClearErrorAndNoEntryRuns) {
    std::atomic<int> entered{0};
    auto entry = [&](std::size_t) -> task<void> {
        entered.fetch_add(1);
        co_return;
    };
    auto o = group_options(2);
    o.cpus = {-1};
    EXPECT_THROW(coil::loop_group(o, entry), std::invalid_argument);
    o.cpus = {CPU_SETSIZE};
    EXPECT_THROW(coil::loop_group(o, entry), std::invalid_argument);

    // In range, but not a CPU this process may use (no machine here has 1024 CPUs): the kernel
    // refuses it with EINVAL, and the threads already started are stopped and joined.
    cpu_set_t allowed;
    ASSERT_EQ(::sched_getaffinity(0, sizeof(allowed), &allowed), 0);
    ASSERT_FALSE(CPU_ISSET(CPU_SETSIZE - 1, &allowed));
    const int allowed_cpu = first_allowed_cpu();
    o.cpus = {allowed_cpu, CPU_SETSIZE - 1};
    try {
        coil::loop_group group(o, entry);
        ADD_FAILURE() << "pinning to CPU " << CPU_SETSIZE - 1 << " did not throw";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::invalid_argument);
        EXPECT_NE(std::string(e.what()).find("CPU 1023"), std::string::npos) << e.what();
    }
    EXPECT_THROW(coil::loop_group(group_options(0), entry), std::invalid_argument);
    EXPECT_EQ(entered.load(), 0);
}

TEST_P(LoopGroupTest, SwitchToMovesTheCoroutineToAnotherLoopAndBack) {
    std::vector<coil::event_loop*> loops(2, nullptr);
    coil::event loops_known;
    std::promise<void> done;
    std::thread::id home_thread, away_thread, back_thread;
    coil::event_loop *away_loop = nullptr, *back_loop = nullptr;
    bool stayed_home = false;
    coil::loop_group group(group_options(2), [&](std::size_t i) -> task<void> {
        if (i == 1) {
            (void)co_await wait_for_stop();
            co_return;
        }
        (void)co_await loops_known.wait();
        home_thread = std::this_thread::get_id();
        co_await coil::switch_to(*loops[0]);  // already there: no hop
        stayed_home = std::this_thread::get_id() == home_thread;
        co_await coil::switch_to(*loops[1]);
        away_thread = std::this_thread::get_id();
        away_loop = coil::event_loop::current();
        co_await coil::switch_to(*loops[0]);
        back_thread = std::this_thread::get_id();
        back_loop = coil::event_loop::current();
        done.set_value();
    });
    loops[0] = &group.loop(0);
    loops[1] = &group.loop(1);
    loops_known.set();
    ASSERT_EQ(done.get_future().wait_for(20s), std::future_status::ready);
    group.stop();
    EXPECT_TRUE(stayed_home);
    EXPECT_NE(away_thread, home_thread);
    EXPECT_EQ(away_loop, loops[1]);
    EXPECT_EQ(back_thread, home_thread);
    EXPECT_EQ(back_loop, loops[0]);
}

// A loop whose only task switched to another loop has nothing of its own to wait for: no I/O, no
// timer, no post yet. It must wait for the task to come back, not report "can never finish" and
// destroy the frame that is running on the other thread meanwhile (run() destroys an unfinished
// root). Plain loops, no loop_group (whose loops hold external work of their own).
TEST_P(LoopGroupTest, SwitchToAwayFromALoopWithNothingElseToDoKeepsItWaiting) {
    std::promise<coil::event_loop*> away_ready;
    coil::event finish;
    std::thread away_thread([&] {
        coil::event_loop away(options());
        away_ready.set_value(&away);
        away.run([](coil::event& f) -> task<void> { (void)co_await f.wait(); }(finish));
    });
    coil::event_loop* away = away_ready.get_future().get();
    coil::event_loop home(options());
    bool ran_away = false;
    bool came_back = false;
    for (int round = 0; round < 3; ++round) {
        EXPECT_NO_THROW(home.run([](coil::event_loop& there, coil::event_loop& back, bool& on_away,
                                    bool& on_home) -> task<void> {
            co_await coil::switch_to(there);
            // Long enough that home reaches its wait while this frame runs here.
            std::this_thread::sleep_for(50ms);
            on_away = coil::event_loop::current() == &there;
            co_await coil::switch_to(back);
            on_home = coil::event_loop::current() == &back;
        }(*away, home, ran_away, came_back)));
        EXPECT_TRUE(ran_away);
        EXPECT_TRUE(came_back);
        ran_away = came_back = false;
    }
    // Back home for good: the loop reports a task that can never finish again (what kept it
    // waiting while the task was away was let go).
    struct never_resumes {
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<>) const noexcept {}
        void await_resume() const noexcept {}
    };
    EXPECT_THROW(home.run([]() -> task<void> { co_await never_resumes{}; }()), std::logic_error);
    finish.set();
    away_thread.join();
}

TEST_P(LoopGroupTest, StopCancelsEveryEntryAndSpawnedTaskAndJoins) {
    constexpr std::size_t n = 4;
    std::atomic<int> entries_cancelled{0};
    std::atomic<int> spawned_cancelled{0};
    std::atomic<std::size_t> started{0};
    std::promise<void> all_started;
    coil::loop_group group(group_options(n), [&](std::size_t) -> task<void> {
        coil::spawn([](std::atomic<int>& count) -> task<void> {
            const bool stopped = co_await wait_for_stop();
            if (stopped) count.fetch_add(1);
        }(spawned_cancelled));
        if (started.fetch_add(1) + 1 == n) all_started.set_value();
        const bool stopped = co_await wait_for_stop();
        if (stopped) entries_cancelled.fetch_add(1);
    });
    ASSERT_EQ(all_started.get_future().wait_for(20s), std::future_status::ready);
    group.stop();  // returns only once every thread is joined
    EXPECT_EQ(entries_cancelled.load(), static_cast<int>(n));
    EXPECT_EQ(spawned_cancelled.load(), static_cast<int>(n));
    EXPECT_THROW((void)group.loop(0), std::logic_error);  // the loops are gone
}

TEST_P(LoopGroupTest, AnEntryThatEndsEarlyKeepsItsLoopUpForHandOffs) {
    std::promise<void> first_done;
    std::promise<void> hopped;
    std::thread::id hop_thread, loop0_thread;
    coil::event may_hop;
    std::vector<coil::event_loop*> loops(2, nullptr);
    coil::loop_group group(group_options(2), [&](std::size_t i) -> task<void> {
        if (i == 0) {
            loop0_thread = std::this_thread::get_id();
            first_done.set_value();
            co_return;  // loop 0 has nothing left to run, but must stay up
        }
        (void)co_await may_hop.wait();
        auto* home = coil::event_loop::current();
        co_await coil::switch_to(*loops[0]);
        hop_thread = std::this_thread::get_id();
        co_await coil::switch_to(*home);
        hopped.set_value();
        (void)co_await wait_for_stop();
    });
    loops[0] = &group.loop(0);
    loops[1] = &group.loop(1);
    ASSERT_EQ(first_done.get_future().wait_for(20s), std::future_status::ready);
    may_hop.set();
    ASSERT_EQ(hopped.get_future().wait_for(20s), std::future_status::ready);
    group.stop();
    EXPECT_EQ(hop_thread, loop0_thread);
}

// Serves one 5-byte echo on `conn` and says on which thread.
task<void> echo_five(coil::tcp_stream conn, std::promise<std::thread::id>& served) {
    std::array<std::byte, 5> buf{};
    auto got = co_await conn.recv_exact(buf);
    if (got) (void)co_await conn.send_all(buf);
    served.set_value(std::this_thread::get_id());
}

// listening_socket::accept_fd yields a bare fd, bound to no loop: loop 0 accepts it and posts it
// to loop 1, which makes the tcp_stream and serves it on its own thread (what echo_server
// --accept handoff does for every connection).
TEST_P(LoopGroupTest, AnFdAcceptedOnOneLoopIsServedAsAStreamOnAnother) {
    std::promise<std::uint16_t> port;
    std::promise<std::thread::id> served;
    std::thread::id loop1_thread;
    coil::event loops_known;
    std::vector<coil::event_loop*> loops(2, nullptr);
    coil::loop_group group(group_options(2), [&](std::size_t i) -> task<void> {
        if (i == 1) {
            loop1_thread = std::this_thread::get_id();
            (void)co_await wait_for_stop();
            co_return;
        }
        auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0));
        port.set_value(listener ? listener->local_endpoint().port() : 0);
        if (!listener) co_return;
        auto known = co_await loops_known.wait();
        if (!known) co_return;
        auto fd = co_await listener->accept_fd();
        if (!fd) co_return;
        auto owned = std::make_shared<coil::unique_fd>(std::move(*fd));  // post() copies its function
        loops[1]->post([owned, &served] {
            coil::event_loop::current_or_throw().spawn(echo_five(coil::tcp_stream(std::move(*owned)), served));
        });
        (void)co_await wait_for_stop();
    });
    loops[0] = &group.loop(0);
    loops[1] = &group.loop(1);
    loops_known.set();
    auto port_future = port.get_future();
    ASSERT_EQ(port_future.wait_for(20s), std::future_status::ready);
    const std::uint16_t p = port_future.get();
    ASSERT_NE(p, 0);
    auto client = [](std::uint16_t to) -> task<bool> {
        auto s = co_await coil::tcp_connect(coil::ip_endpoint::loopback_v4(to), 5s);
        if (!s) co_return false;
        const std::array<std::byte, 5> hello{std::byte{'h'}, std::byte{'e'}, std::byte{'l'}, std::byte{'l'},
                                             std::byte{'o'}};
        std::array<std::byte, 5> back{};
        auto sent = co_await s->send_all(hello);
        if (!sent) co_return false;
        auto got = co_await s->recv_exact(back);
        co_return got && back == hello;
    };
    EXPECT_TRUE(run(client(p)));
    auto served_future = served.get_future();
    ASSERT_EQ(served_future.wait_for(20s), std::future_status::ready);
    const auto served_thread = served_future.get();
    group.stop();
    EXPECT_EQ(served_thread, loop1_thread);
}

TEST_P(LoopGroupTest, AnExceptionInOneLoopStopsTheGroupAndIsRethrownFromJoin) {
    std::atomic<int> cancelled{0};
    coil::loop_group group(group_options(3), [&](std::size_t i) -> task<void> {
        if (i == 1) {
            (void)co_await coil::sleep_for(1ms);
            throw std::runtime_error("loop 1 failed");
        }
        const bool stopped = co_await wait_for_stop();
        if (stopped) cancelled.fetch_add(1);
    });
    // No request_stop: the failure itself stops the others.
    try {
        group.join();
        ADD_FAILURE() << "join did not rethrow";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "loop 1 failed");
    }
    EXPECT_EQ(cancelled.load(), 2);
    EXPECT_NO_THROW(group.join());  // reported once
}

TEST_P(LoopGroupTest, TheDestructorStopsAndJoins) {
    std::atomic<int> cancelled{0};
    std::promise<void> started;
    {
        coil::loop_group group(group_options(2), [&](std::size_t i) -> task<void> {
            if (i == 0) started.set_value();
            const bool stopped = co_await wait_for_stop();
            if (stopped) cancelled.fetch_add(1);
        });
        ASSERT_EQ(started.get_future().wait_for(20s), std::future_status::ready);
    }
    EXPECT_EQ(cancelled.load(), 2);
}

COIL_INSTANTIATE_BACKEND_TEST(LoopGroupTest);

}  // namespace
