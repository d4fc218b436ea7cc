// coil's sync primitives across loops on different threads (suite 'threads': ./dev test also runs
// it under ThreadSanitizer): no lost wake-ups under contention, FIFO hand-over across loops, each
// waiter resumed on its own loop's thread, channel order per sender, cancelled receives racing a
// sender on another thread lose no value, the semaphore never over-issues, and a broadcast
// reaches receivers on other loops. Every loop runs its work under a 60 s with_timeout, so a lost
// wake-up fails the test (timed_out) instead of hanging it.
#include "coil/runtime/sync/mutex.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "coil/runtime.hpp"
#include "support/backend_test.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;

constexpr auto time_limit = 60s;

class SyncThreadsTest : public coil::testing::BackendTest {
protected:
    // Runs `make()` on a loop of this test's backend on a thread of its own, bounded in time.
    std::thread loop_thread(std::function<task<void>()> make) {
        return std::thread([this, make = std::move(make)] { run_bounded(make()); });
    }
    // Runs `t` on a loop of this test's backend on the calling thread, bounded in time.
    void run_bounded(task<void> t) {
        coil::event_loop loop(options());
        auto outcome = loop.run(coil::with_timeout(std::move(t), time_limit));
        EXPECT_TRUE(outcome) << outcome.error().message();
    }
};

task<void> yield_turns(int turns) {
    for (int i = 0; i < turns; ++i) co_await coil::yield();
}

// ---- mutex ---------------------------------------------------------------------------------

task<void> hammer(coil::mutex& m, long& counter, int rounds) {
    coil::event_loop* home = coil::event_loop::current();
    for (int i = 0; i < rounds; ++i) {
        auto held = co_await m.lock();
        if (!held) co_return;  // cancelled: the time limit passed
        EXPECT_EQ(coil::event_loop::current(), home);  // resumed on its own loop's thread
        const long seen = counter;
        if (i % 4 == 0) co_await coil::yield();  // hold the lock across a suspension
        counter = seen + 1;
    }
}

task<void> hammer_group(coil::mutex& m, long& counter, int tasks, int rounds) {
    coil::task_group group(co_await coil::current_cancel_token());
    for (int t = 0; t < tasks; ++t) group.spawn(hammer(m, counter, rounds));
    co_await group.join();
}

TEST_P(SyncThreadsTest, MutexLosesNoWakeUpUnderContentionAcrossTwoLoops) {
    constexpr int tasks = 4;
    constexpr int rounds = 400;
    coil::mutex m;
    long counter = 0;  // guarded by m only: TSan reports a race if the mutex lets two in
    std::thread a = loop_thread([&] { return hammer_group(m, counter, tasks, rounds); });
    std::thread b = loop_thread([&] { return hammer_group(m, counter, tasks, rounds); });
    a.join();
    b.join();
    EXPECT_EQ(counter, 2L * tasks * rounds);
    EXPECT_FALSE(m.is_locked());
}

task<void> lock_and_record(coil::mutex& m, int id, std::vector<int>& order) {
    auto held = co_await m.lock();
    if (held) order.push_back(id);
}

task<void> park_in_order(coil::mutex& m, std::vector<int>& order, coil::event& parked) {
    coil::task_group group(co_await coil::current_cancel_token());
    for (int id = 0; id < 5; ++id) group.spawn(lock_and_record(m, id, order));
    co_await yield_turns(2);  // each has parked, in spawn order
    parked.set();             // wakes the main loop from this thread
    co_await group.join();
}

task<void> unlock_when_parked(coil::mutex& m, std::vector<int>& order, coil::event& parked,
                              std::optional<coil::mutex::guard>& held) {
    auto waited = co_await parked.wait();
    EXPECT_TRUE(waited);
    held.reset();  // hands the lock to the other loop's first waiter
    co_await lock_and_record(m, 99, order);  // queues behind all five
}

TEST_P(SyncThreadsTest, MutexHandsTheLockToAnotherLoopsWaitersInFifoOrder) {
    coil::mutex m;
    coil::event parked;
    std::vector<int> order;  // appended under m only
    std::optional<coil::mutex::guard> held = m.try_lock();
    ASSERT_TRUE(held.has_value());
    std::thread other = loop_thread([&] { return park_in_order(m, order, parked); });
    run_bounded(unlock_when_parked(m, order, parked, held));
    other.join();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 99}));
}

task<void> lock_and_flag(coil::mutex& m, bool& ran) {
    auto held = co_await m.lock();
    if (held) ran = true;
}

// Loop B: a waiter is handed the lock from the main thread (its wake is posted to B) and is
// destroyed before B runs that post. The posted wake must not touch the freed frame (ASan), and
// the lock must pass to the next waiter rather than stay taken.
task<void> destroy_granted_waiter(coil::mutex& m, std::atomic<bool>& parked,
                                  std::atomic<bool>& released, bool& doomed_ran, bool& next_ran) {
    std::optional<coil::task_group> doomed(std::in_place);
    doomed->spawn(lock_and_flag(m, doomed_ran));
    co_await coil::yield();
    coil::task_group next;
    next.spawn(lock_and_flag(m, next_ran));
    co_await yield_turns(2);
    parked.store(true);
    // Block this loop's thread (deliberately) until the main thread has unlocked: the wake it
    // posted to this loop cannot run before the frame is destroyed below.
    for (int i = 0; i < 10'000 && !released.load(); ++i) std::this_thread::sleep_for(1ms);
    EXPECT_TRUE(released.load());
    doomed.reset();
    co_await next.join();
}

task<void> unlock_once_parked(std::optional<coil::mutex::guard>& held, std::atomic<bool>& parked,
                              std::atomic<bool>& released) {
    for (int i = 0; i < 10'000 && !parked.load(); ++i) co_await coil::sleep_for(1ms);
    EXPECT_TRUE(parked.load());
    held.reset();  // granted to the doomed waiter on the other loop: its wake is posted there
    released.store(true);
}

TEST_P(SyncThreadsTest, LockHandedAcrossThreadsToAWaiterDestroyedBeforeItsWakeRanPassesOn) {
    coil::mutex m;
    std::atomic<bool> parked{false};
    std::atomic<bool> released{false};
    bool doomed_ran = false;
    bool next_ran = false;
    std::optional<coil::mutex::guard> held = m.try_lock();
    ASSERT_TRUE(held.has_value());
    std::thread other = loop_thread(
        [&] { return destroy_granted_waiter(m, parked, released, doomed_ran, next_ran); });
    run_bounded(unlock_once_parked(held, parked, released));
    other.join();
    EXPECT_FALSE(doomed_ran);
    EXPECT_TRUE(next_ran);
    EXPECT_FALSE(m.is_locked());
}

// ---- semaphore -----------------------------------------------------------------------------

struct permit_stats {
    std::atomic<int> active{0};
    std::atomic<int> most{0};
    std::atomic<int> done{0};
};

task<void> use_permits(coil::semaphore& s, permit_stats& stats, int rounds) {
    for (int i = 0; i < rounds; ++i) {
        auto permit = co_await s.acquire();
        if (!permit) co_return;
        const int now = stats.active.fetch_add(1) + 1;
        int most = stats.most.load();
        while (now > most && !stats.most.compare_exchange_weak(most, now)) {
        }
        co_await coil::yield();
        stats.active.fetch_sub(1);
        stats.done.fetch_add(1);
    }
}

task<void> permit_group(coil::semaphore& s, permit_stats& stats, int tasks, int rounds) {
    coil::task_group group(co_await coil::current_cancel_token());
    for (int t = 0; t < tasks; ++t) group.spawn(use_permits(s, stats, rounds));
    co_await group.join();
}

TEST_P(SyncThreadsTest, SemaphoreNeverIssuesMorePermitsThanItHasAcrossTwoLoops) {
    coil::semaphore s(3);
    permit_stats stats;
    std::thread a = loop_thread([&] { return permit_group(s, stats, 4, 200); });
    std::thread b = loop_thread([&] { return permit_group(s, stats, 4, 200); });
    a.join();
    b.join();
    EXPECT_LE(stats.most.load(), 3);
    EXPECT_GE(stats.most.load(), 1);
    EXPECT_EQ(stats.done.load(), 2 * 4 * 200);
    EXPECT_EQ(s.available(), 3u);
}

// ---- event ---------------------------------------------------------------------------------

task<void> wait_on_own_thread(coil::event& e, std::atomic<int>& woken) {
    coil::event_loop* home = coil::event_loop::current();
    const auto thread = std::this_thread::get_id();
    auto waited = co_await e.wait();
    EXPECT_TRUE(waited);
    EXPECT_EQ(coil::event_loop::current(), home);
    EXPECT_EQ(std::this_thread::get_id(), thread);
    woken.fetch_add(1);
}

task<void> three_waiters(coil::event& e, std::atomic<int>& woken, std::atomic<int>& parked_loops) {
    coil::task_group group(co_await coil::current_cancel_token());
    for (int i = 0; i < 3; ++i) group.spawn(wait_on_own_thread(e, woken));
    co_await yield_turns(2);
    parked_loops.fetch_add(1);
    co_await group.join();
}

TEST_P(SyncThreadsTest, EventSetFromAPlainThreadWakesWaitersOnTwoLoopsOnTheirOwnThreads) {
    coil::event e;
    std::atomic<int> woken{0};
    std::atomic<int> parked_loops{0};
    std::thread a = loop_thread([&] { return three_waiters(e, woken, parked_loops); });
    std::thread b = loop_thread([&] { return three_waiters(e, woken, parked_loops); });
    for (int i = 0; i < 10'000 && parked_loops.load() < 2; ++i) std::this_thread::sleep_for(1ms);
    EXPECT_EQ(parked_loops.load(), 2);
    EXPECT_EQ(woken.load(), 0);
    e.set();  // from a thread with no loop: both wakes go through post
    a.join();
    b.join();
    EXPECT_EQ(woken.load(), 6);
}

// ---- channel -------------------------------------------------------------------------------

struct tagged {
    int sender;
    int seq;
};

task<void> send_tagged(coil::channel<tagged>& ch, int sender, int count) {
    for (int i = 0; i < count; ++i) {
        auto sent = co_await ch.send(tagged{sender, i});
        if (!sent) {
            ADD_FAILURE() << sent.error().message();
            co_return;
        }
    }
}

task<void> receive_tagged(coil::channel<tagged>& ch, int count) {
    std::vector<int> next(2, 0);
    for (int i = 0; i < 2 * count; ++i) {
        auto v = co_await ch.receive();
        if (!v) {
            ADD_FAILURE() << v.error().message();
            co_return;
        }
        EXPECT_EQ(v->seq, next[static_cast<std::size_t>(v->sender)]) << "sender " << v->sender;
        next[static_cast<std::size_t>(v->sender)] = v->seq + 1;
    }
    EXPECT_EQ(next, (std::vector<int>{count, count}));
}

TEST_P(SyncThreadsTest, BoundedChannelKeepsEachSendersOrderAcrossThreads) {
    constexpr int count = 2000;
    coil::channel<tagged> ch(4);
    std::thread a = loop_thread([&] { return send_tagged(ch, 0, count); });
    std::thread b = loop_thread([&] { return send_tagged(ch, 1, count); });
    run_bounded(receive_tagged(ch, count));
    a.join();
    b.join();
    ch.close();
    EXPECT_EQ(ch.try_receive().error(), coil::errc::closed);
}

task<void> send_slowly(coil::channel<int>& ch, int count) {
    for (int i = 0; i < count; ++i) {
        auto sent = co_await ch.send(int{i});
        EXPECT_TRUE(sent);
        if (i % 16 == 0) co_await coil::sleep_for(100us);
    }
}

// Each receive is cancelled by a tiny timeout, racing a send from another thread that may hand it
// a value at the same moment: the value must be either delivered or left for the next receive.
task<void> receive_with_tiny_timeouts(coil::channel<int>& ch, int count, int& timeouts) {
    std::vector<int> got;
    while (static_cast<int>(got.size()) < count) {
        auto v = co_await coil::with_timeout(ch.receive(), 50us);
        if (v) {
            got.push_back(*v);
        } else if (v.error() == coil::errc::timed_out) {
            ++timeouts;
        } else {
            ADD_FAILURE() << v.error().message();  // the outer limit passed
            co_return;
        }
    }
    std::vector<int> expected(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) expected[static_cast<std::size_t>(i)] = i;
    EXPECT_EQ(got, expected);
}

TEST_P(SyncThreadsTest, ReceivesCancelledWhileAnotherThreadSendsLoseNoValue) {
    constexpr int count = 500;
    coil::channel<int> ch(2);
    int timeouts = 0;
    std::thread sender = loop_thread([&] { return send_slowly(ch, count); });
    run_bounded(receive_with_tiny_timeouts(ch, count, timeouts));
    sender.join();
    EXPECT_GT(timeouts, 0);  // the receives did get cancelled, so the race was exercised
}

task<void> park_then_expect_closed(coil::channel<int>& empty, coil::channel<int>& full,
                                   std::atomic<bool>& parked) {
    auto receive_closed = [](coil::channel<int>& ch) -> task<std::error_code> {
        auto v = co_await ch.receive();
        co_return v.error();
    };
    auto send_closed = [](coil::channel<int>& ch) -> task<std::error_code> {
        auto sent = co_await ch.send(2);
        co_return sent.error();
    };
    auto mark_parked = [](std::atomic<bool>& flag) -> task<void> {
        co_await yield_turns(2);
        flag.store(true);
    };
    auto [r, s, unused] =
        co_await coil::when_all(receive_closed(empty), send_closed(full), mark_parked(parked));
    EXPECT_EQ(r, coil::errc::closed);
    EXPECT_EQ(s, coil::errc::closed);
}

TEST_P(SyncThreadsTest, CloseFromAnotherThreadWakesParkedSendersAndReceiversWithClosed) {
    coil::channel<int> empty(1);
    coil::channel<int> full(1);
    ASSERT_TRUE(full.try_send(1));
    std::atomic<bool> parked{false};
    std::thread other = loop_thread([&] { return park_then_expect_closed(empty, full, parked); });
    for (int i = 0; i < 10'000 && !parked.load(); ++i) std::this_thread::sleep_for(1ms);
    EXPECT_TRUE(parked.load());
    empty.close();  // from a thread with no loop
    full.close();
    other.join();
    auto drained = full.try_receive();  // what was queued before the close is still there
    EXPECT_TRUE(drained && *drained == 1);
    EXPECT_EQ(full.try_receive().error(), coil::errc::closed);
}

// ---- broadcast -----------------------------------------------------------------------------

task<void> receive_all(coil::broadcast<int>::receiver& r, int count) {
    for (int i = 0; i < count; ++i) {
        auto v = co_await r.receive();
        if (!v) {
            ADD_FAILURE() << v.error().message();
            co_return;
        }
        EXPECT_EQ(*v, i);
    }
    auto end = co_await r.receive();
    EXPECT_EQ(end.error(), coil::errc::closed);
}

task<void> broadcast_slowly(coil::broadcast<int>& b, int count) {
    for (int i = 0; i < count; ++i) {
        EXPECT_TRUE(b.send(int{i}));
        if (i % 32 == 0) co_await coil::sleep_for(100us);
    }
    b.close();
}

TEST_P(SyncThreadsTest, BroadcastReachesReceiversOnOtherLoops) {
    constexpr int count = 1000;
    coil::broadcast<int> b(1024);  // room for all: no receiver lags
    auto ra = b.subscribe();
    auto rb = b.subscribe();
    std::thread a = loop_thread([&] { return receive_all(ra, count); });
    std::thread c = loop_thread([&] { return receive_all(rb, count); });
    run_bounded(broadcast_slowly(b, count));
    a.join();
    c.join();
}

COIL_INSTANTIATE_BACKEND_TEST(SyncThreadsTest);

}  // namespace
