// coil's sync primitives (event, mutex, semaphore, channel, broadcast) within one loop, on both
// backends: wake-ups, FIFO fairness, cancellation of every wait (the primitive stays consistent,
// nothing handed over is lost), a waiting task destroyed before or after it was handed the
// resource, channel close/drain, and the broadcast lagging policy. The cross-thread cases are in
// sync_threads_test.cpp.
#include "coil/runtime/sync/channel.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "coil/runtime.hpp"
#include "support/backend_test.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;

class SyncTest : public coil::testing::BackendTest {
protected:
    // A lost wake-up would leave a task parked for ever (a parked waiter keeps its loop from
    // reporting a deadlock), so every test runs under a limit and fails with timed_out instead.
    void run_bounded(task<void> body) {
        auto outcome = run(coil::with_timeout(std::move(body), 20s));
        EXPECT_TRUE(outcome) << outcome.error().message();
    }
};

// Lets every other ready task run `turns` times over.
task<void> yield_turns(int turns) {
    for (int i = 0; i < turns; ++i) co_await coil::yield();
}

// ---- event ---------------------------------------------------------------------------------

task<void> wait_then_count(coil::event& e, int& woken) {
    auto waited = co_await e.wait();
    EXPECT_TRUE(waited);
    ++woken;
}

TEST_P(SyncTest, EventSetWakesEveryWaiterAndLaterWaitsPassAtOnce) {
    auto body = []() -> task<void> {
        coil::event e;
        int woken = 0;
        coil::task_group group;
        for (int i = 0; i < 3; ++i) group.spawn(wait_then_count(e, woken));
        co_await yield_turns(3);
        EXPECT_EQ(woken, 0);
        EXPECT_FALSE(e.is_set());
        e.set();
        co_await group.join();
        EXPECT_EQ(woken, 3);
        auto again = co_await e.wait();  // set: passes without a setter
        EXPECT_TRUE(again);
        e.reset();
        EXPECT_FALSE(e.is_set());
    };
    run_bounded(body());
}

task<void> cancel_after_turns(coil::cancel_source& source, int turns) {
    co_await yield_turns(turns);
    source.request_cancel();
}

TEST_P(SyncTest, CancelledEventWaitEndsWithOperationCanceledAndLeavesTheEventUsable) {
    auto body = []() -> task<void> {
        coil::event e;
        coil::cancel_source source;
        auto waiter = [](coil::event& ev) -> task<std::error_code> {
            auto waited = co_await ev.wait();
            co_return waited.error();
        }(e);
        waiter.set_cancel_token(source.token());
        auto [code, unused] = co_await coil::when_all(std::move(waiter), cancel_after_turns(source, 2));
        EXPECT_EQ(code, std::errc::operation_canceled);
        int woken = 0;
        coil::task_group group;
        group.spawn(wait_then_count(e, woken));
        co_await coil::yield();
        e.set();
        co_await group.join();
        EXPECT_EQ(woken, 1);
    };
    run_bounded(body());
}

// ---- mutex ---------------------------------------------------------------------------------

task<void> lock_twice_recording(coil::mutex& m, int id, std::vector<int>& order) {
    for (int round = 0; round < 2; ++round) {
        auto held = co_await m.lock();
        EXPECT_TRUE(held);
        order.push_back(id);
        co_await coil::yield();  // hold it across a suspension
    }  // unlock, then lock again at once: a fair mutex queues us behind the others
}

TEST_P(SyncTest, MutexHandsTheLockOutInFifoOrderAndAnUnlockerRequeuesBehindTheOthers) {
    auto body = []() -> task<void> {
        coil::mutex m;
        std::vector<int> order;
        auto first = m.try_lock();
        EXPECT_TRUE(first.has_value());
        coil::task_group group;
        for (int id = 0; id < 5; ++id) group.spawn(lock_twice_recording(m, id, order));
        co_await yield_turns(3);
        EXPECT_TRUE(order.empty());
        EXPECT_FALSE(m.try_lock().has_value());
        first.reset();  // unlock: the lock goes to task 0
        co_await group.join();
        EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 0, 1, 2, 3, 4}));
        EXPECT_FALSE(m.is_locked());
    };
    run_bounded(body());
}

TEST_P(SyncTest, CancelledLockWaitEndsWithOperationCanceledAndTheNextWaiterGetsTheLock) {
    auto body = []() -> task<void> {
        coil::mutex m;
        auto held = m.try_lock();
        coil::cancel_source source;
        auto cancelled = [](coil::mutex& mu) -> task<std::error_code> {
            auto g = co_await mu.lock();
            co_return g.error();
        }(m);
        cancelled.set_cancel_token(source.token());
        std::vector<int> order;
        coil::task_group group;
        group.spawn(lock_twice_recording(m, 7, order));  // parks behind the cancelled one
        auto [code, unused] = co_await coil::when_all(std::move(cancelled), cancel_after_turns(source, 2));
        EXPECT_EQ(code, std::errc::operation_canceled);
        EXPECT_TRUE(order.empty());
        held.reset();
        co_await group.join();
        EXPECT_EQ(order, (std::vector<int>{7, 7}));
        EXPECT_FALSE(m.is_locked());
    };
    run_bounded(body());
}

task<void> lock_and_flag(coil::mutex& m, bool& ran) {
    auto held = co_await m.lock();
    if (held) ran = true;
}

// The race a destroyed waiter must not lose: the lock is handed to a waiting task, and that task
// is destroyed before it runs. The lock must go on to the next waiter, not stay taken forever.
TEST_P(SyncTest, LockHandedToAWaiterDestroyedBeforeItRanPassesToTheNextWaiter) {
    auto body = []() -> task<void> {
        coil::mutex m;
        auto held = m.try_lock();
        bool doomed_ran = false;
        bool next_ran = false;
        std::optional<coil::task_group> doomed(std::in_place);
        doomed->spawn(lock_and_flag(m, doomed_ran));
        co_await coil::yield();  // the doomed task parks first
        coil::task_group next;
        next.spawn(lock_and_flag(m, next_ran));
        co_await yield_turns(2);
        held.reset();    // handed to the doomed task (queued to run, not run yet)
        doomed.reset();  // destroyed before it ran
        co_await next.join();
        EXPECT_FALSE(doomed_ran);
        EXPECT_TRUE(next_ran);
        EXPECT_FALSE(m.is_locked());
    };
    run_bounded(body());
}

// ---- semaphore -----------------------------------------------------------------------------

task<void> hold_permit(coil::semaphore& s, int& active, int& most, int& done) {
    auto permit = co_await s.acquire();
    EXPECT_TRUE(permit);
    ++active;
    if (active > most) most = active;
    co_await yield_turns(2);
    --active;
    ++done;
}

TEST_P(SyncTest, SemaphoreNeverIssuesMorePermitsThanItHas) {
    auto body = []() -> task<void> {
        coil::semaphore s(2);
        int active = 0, most = 0, done = 0;
        coil::task_group group;
        for (int i = 0; i < 7; ++i) group.spawn(hold_permit(s, active, most, done));
        co_await group.join();
        EXPECT_EQ(most, 2);
        EXPECT_EQ(done, 7);
        EXPECT_EQ(s.available(), 2u);
    };
    run_bounded(body());
}

task<void> acquire_and_record(coil::semaphore& s, bool& ran, bool& got_permit) {
    auto permit = co_await s.acquire();
    ran = true;
    got_permit = permit.has_value() && permit->owns_permit();
}

// tokio's semaphore once lost a permit handed to a waiter that was cancelled or dropped at that
// moment. Here a permit handed over stays handed over: a waiter cancelled after the hand-over
// resumes with it, and one destroyed before it ran passes it to the next waiter.
TEST_P(SyncTest, PermitHandedToAWaiterCancelledOrDestroyedBeforeItRanIsNotLost) {
    auto body = []() -> task<void> {
        coil::semaphore s(0);
        bool doomed_ran = false, doomed_got = false;
        bool cancelled_ran = false, cancelled_got = false;
        bool next_ran = false, next_got = false;
        std::optional<coil::task_group> doomed(std::in_place);
        doomed->spawn(acquire_and_record(s, doomed_ran, doomed_got));
        co_await coil::yield();
        coil::task_group cancelled;
        cancelled.spawn(acquire_and_record(s, cancelled_ran, cancelled_got));
        co_await coil::yield();
        coil::task_group next;
        next.spawn(acquire_and_record(s, next_ran, next_got));
        co_await yield_turns(2);  // all three parked, in this order
        s.release(2);             // handed to the doomed and the cancelled waiter
        EXPECT_EQ(s.available(), 0u);
        cancelled.cancel();       // too late: it resumes with its permit
        doomed.reset();           // destroyed before it ran: its permit goes to the next waiter
        co_await cancelled.join();
        co_await next.join();
        EXPECT_FALSE(doomed_ran);
        EXPECT_TRUE(cancelled_ran);
        EXPECT_TRUE(cancelled_got);
        EXPECT_TRUE(next_ran);
        EXPECT_TRUE(next_got);
        EXPECT_EQ(s.available(), 2u);  // both permits came back when their holders ended
    };
    run_bounded(body());
}

// release(n) past SIZE_MAX free permits wrapped the count round (to 0 here: no permit left at
// all, every later acquire parked). tokio refuses more than its MAX_PERMITS; coil saturates.
TEST_P(SyncTest, SemaphoreReleasePastTheMaximumSaturatesInsteadOfWrapping) {
    constexpr std::size_t most = std::numeric_limits<std::size_t>::max();
    coil::semaphore full(most);
    full.release(1);
    EXPECT_EQ(full.available(), most);
    coil::semaphore some(5);
    some.release(most);
    EXPECT_EQ(some.available(), most);
    auto taken = some.try_acquire();
    EXPECT_TRUE(taken.has_value());
    EXPECT_EQ(some.available(), most - 1);
    taken.reset();  // returns the permit
    EXPECT_EQ(some.available(), most);
}

TEST_P(SyncTest, CancelledAcquireTakesNoPermitAndReleaseReachesTheNextWaiter) {
    auto body = []() -> task<void> {
        coil::semaphore s(1);
        auto only = s.try_acquire();
        EXPECT_TRUE(only.has_value());
        EXPECT_FALSE(s.try_acquire().has_value());
        coil::cancel_source source;
        auto cancelled = [](coil::semaphore& sem) -> task<std::error_code> {
            auto p = co_await sem.acquire();
            co_return p.error();
        }(s);
        cancelled.set_cancel_token(source.token());
        int active = 0, most = 0, done = 0;
        coil::task_group group;
        group.spawn(hold_permit(s, active, most, done));
        auto [code, unused] = co_await coil::when_all(std::move(cancelled), cancel_after_turns(source, 2));
        EXPECT_EQ(code, std::errc::operation_canceled);
        only.reset();
        co_await group.join();
        EXPECT_EQ(done, 1);
        EXPECT_EQ(s.available(), 1u);
    };
    run_bounded(body());
}

// ---- channel -------------------------------------------------------------------------------

task<void> send_range(coil::channel<int>& ch, int from, int to) {
    for (int i = from; i < to; ++i) {
        auto sent = co_await ch.send(int{i});
        EXPECT_TRUE(sent) << sent.error().message();
    }
}

TEST_P(SyncTest, BoundedChannelIsFifoAndItsSenderWaitsWhileItIsFull) {
    auto body = []() -> task<void> {
        coil::channel<int> ch(2);
        coil::task_group group;
        group.spawn(send_range(ch, 0, 10));
        co_await yield_turns(3);
        EXPECT_EQ(ch.size(), 2u);  // the sender is parked on the third value
        std::vector<int> got;
        for (int i = 0; i < 10; ++i) {
            auto v = co_await ch.receive();
            EXPECT_TRUE(v);
            if (v) got.push_back(*v);
            EXPECT_LE(ch.size(), 2u);
        }
        co_await group.join();
        EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    };
    run_bounded(body());
}

TEST_P(SyncTest, ClosedChannelRefusesSendsAndReceiversDrainThenGetClosed) {
    auto body = []() -> task<void> {
        coil::channel<std::string> ch(coil::unbounded);
        EXPECT_FALSE(ch.bounded());
        for (const char* s : {"a", "b", "c"}) {
            auto sent = co_await ch.send(s);
            EXPECT_TRUE(sent);
        }
        ch.close();
        auto late = co_await ch.send("d");
        EXPECT_EQ(late.error(), coil::errc::closed);
        std::string kept = "e";
        EXPECT_EQ(ch.try_send(std::move(kept)).error(), coil::errc::closed);
        EXPECT_EQ(kept, "e");  // try_send gives a refused value back
        std::vector<std::string> got;
        for (;;) {
            auto v = co_await ch.receive();
            if (!v) {
                EXPECT_EQ(v.error(), coil::errc::closed);
                break;
            }
            got.push_back(*v);
        }
        EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c"}));
        auto after = co_await ch.receive();
        EXPECT_EQ(after.error(), coil::errc::closed);
        EXPECT_EQ(ch.try_receive().error(), coil::errc::closed);
    };
    run_bounded(body());
}

task<std::error_code> send_one(coil::channel<int>& ch, int v) {
    auto sent = co_await ch.send(int{v});
    co_return sent.error();
}
task<std::error_code> receive_error(coil::channel<int>& ch) {
    auto got = co_await ch.receive();
    co_return got.error();
}
task<std::optional<int>> receive_value(coil::channel<int>& ch) {
    auto got = co_await ch.receive();
    if (!got) co_return std::nullopt;
    co_return *got;
}

TEST_P(SyncTest, CloseWakesParkedSendersAndReceiversWithClosed) {
    auto body = []() -> task<void> {
        coil::channel<int> empty(1);
        coil::channel<int> full(1);
        EXPECT_TRUE(full.try_send(1));
        auto closer = [](coil::channel<int>& a, coil::channel<int>& b) -> task<void> {
            co_await yield_turns(2);
            a.close();
            b.close();
        };
        auto [r, s, unused] =
            co_await coil::when_all(receive_error(empty), send_one(full, 2), closer(empty, full));
        EXPECT_EQ(r, coil::errc::closed);
        EXPECT_EQ(s, coil::errc::closed);
        auto drained = full.try_receive();  // the queued value survives the close; 2 was dropped
        EXPECT_TRUE(drained && *drained == 1);
        EXPECT_EQ(full.try_receive().error(), coil::errc::closed);
    };
    run_bounded(body());
}

TEST_P(SyncTest, CancelledReceiverDoesNotEatAValue) {
    auto body = []() -> task<void> {
        coil::channel<int> ch(4);
        coil::cancel_source source;
        auto cancelled = receive_error(ch);  // parks first: the first value would be its
        cancelled.set_cancel_token(source.token());
        auto sender = [](coil::channel<int>& c, coil::cancel_source& src) -> task<void> {
            co_await yield_turns(2);
            src.request_cancel();
            co_await yield_turns(2);
            EXPECT_TRUE(c.try_send(42));
        };
        auto [code, value, unused] =
            co_await coil::when_all(std::move(cancelled), receive_value(ch), sender(ch, source));
        EXPECT_EQ(code, std::errc::operation_canceled);
        EXPECT_EQ(value, 42);
    };
    run_bounded(body());
}

TEST_P(SyncTest, CancelledBoundedSenderDoesNotEnqueue) {
    auto body = []() -> task<void> {
        coil::channel<int> ch(1);
        EXPECT_TRUE(ch.try_send(1));
        coil::cancel_source source;
        auto cancelled = send_one(ch, 2);  // parks: the channel is full
        cancelled.set_cancel_token(source.token());
        auto [code, unused] = co_await coil::when_all(std::move(cancelled), cancel_after_turns(source, 2));
        EXPECT_EQ(code, std::errc::operation_canceled);
        auto first = co_await ch.receive();
        EXPECT_TRUE(first && *first == 1);
        EXPECT_EQ(ch.try_receive().error(), std::errc::operation_would_block);  // 2 never went in
        EXPECT_EQ(ch.try_send(3).error(), std::error_code{});
    };
    run_bounded(body());
}

TEST_P(SyncTest, ChannelReceiveUnderWithTimeoutEndsTimedOutAndTakesNothing) {
    auto body = []() -> task<void> {
        coil::channel<int> ch(1);
        auto timed = co_await coil::with_timeout(ch.receive(), 5ms);
        EXPECT_EQ(timed.error(), coil::errc::timed_out);
        EXPECT_TRUE(ch.try_send(5));
        auto v = co_await coil::with_timeout(ch.receive(), 5s);
        EXPECT_TRUE(v && *v == 5);
    };
    run_bounded(body());
}

task<void> receive_into(coil::channel<int>& ch, std::optional<int>& out) {
    auto v = co_await ch.receive();
    if (v) out = *v;
}

TEST_P(SyncTest, ValueHandedToAReceiverDestroyedBeforeItRanIsNotLost) {
    auto body = []() -> task<void> {
        coil::channel<int> ch(1);
        std::optional<int> doomed_got;
        std::optional<coil::task_group> doomed(std::in_place);
        doomed->spawn(receive_into(ch, doomed_got));
        co_await coil::yield();  // parked
        EXPECT_TRUE(ch.try_send(7));   // handed straight to the parked receiver
        EXPECT_TRUE(ch.try_send(8));   // queued
        doomed.reset();                // destroyed before it ran: 7 goes back to the front
        EXPECT_FALSE(doomed_got.has_value());
        auto first = ch.try_receive();
        auto second = ch.try_receive();
        EXPECT_TRUE(first && *first == 7);
        EXPECT_TRUE(second && *second == 8);
    };
    run_bounded(body());
}

// A value whose move constructor throws while its id is poisoned (a type that allocates to move,
// say, under memory pressure). Test thread only.
struct fragile {
    static inline std::vector<int> poisoned;
    int id = 0;
    explicit fragile(int i) noexcept : id(i) {}
    fragile(fragile&& other) : id(other.id) {
        if (std::find(poisoned.begin(), poisoned.end(), id) != poisoned.end()) {
            throw std::runtime_error("fragile: move failed");
        }
    }
    fragile& operator=(fragile&& other) {
        fragile moved(std::move(other));
        id = moved.id;
        return *this;
    }
};

task<void> send_fragile(coil::channel<fragile>& ch, int id) {
    auto sent = co_await ch.send(fragile(id));
    EXPECT_TRUE(sent);
}

// A receive that makes room moves the first parked sender's value into the queue. When that move
// threw after the received value had already left the queue, the value was lost and the sender
// stayed parked beside an empty queue. Now the receive throws having taken nothing.
TEST_P(SyncTest, ChannelReceiveWhoseRefillFromAParkedSenderThrowsLosesNoValue) {
    auto body = []() -> task<void> {
        coil::channel<fragile> ch(1);
        coil::task_group group;
        EXPECT_TRUE(ch.try_send(fragile(1)));
        group.spawn(send_fragile(ch, 2));
        group.spawn(send_fragile(ch, 3));
        co_await yield_turns(3);  // both senders parked: the channel is full
        fragile::poisoned = {2};
        EXPECT_THROW((void)ch.try_receive(), std::runtime_error);
        bool awaited_threw = false;
        try {
            auto r = co_await ch.receive();
            (void)r;
        } catch (const std::runtime_error&) {
            awaited_threw = true;
        }
        EXPECT_TRUE(awaited_threw);
        EXPECT_EQ(ch.size(), 1u);
        fragile::poisoned.clear();
        std::vector<int> got;
        for (int i = 0; i < 3; ++i) {
            auto v = co_await ch.receive();
            EXPECT_TRUE(v);
            if (v) got.push_back(v->id);
        }
        co_await group.join();
        EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
    };
    run_bounded(body());
}

// A receiver handed a value and destroyed before it ran gives the value back from its destructor,
// where a throwing move used to terminate the process. It is dropped and logged instead, and the
// channel carries on.
TEST_P(SyncTest, ValueGivenBackByADestroyedReceiverWhoseMoveThrowsIsDroppedAndLogged) {
    std::vector<std::string> errors;
    auto previous = coil::set_log_handler([&](coil::log_level level, std::string_view m) {
        if (level == coil::log_level::error) errors.emplace_back(m);
    });
    auto body = []() -> task<void> {
        coil::channel<fragile> ch(1);
        std::optional<coil::task_group> doomed(std::in_place);
        doomed->spawn([](coil::channel<fragile>& c) -> task<void> {
            (void)co_await c.receive();
            ADD_FAILURE() << "the doomed receiver ran";
        }(ch));
        co_await coil::yield();  // parked
        EXPECT_TRUE(ch.try_send(fragile(7)));  // handed straight to the parked receiver
        fragile::poisoned = {7};
        doomed.reset();  // gives 7 back: its move throws
        fragile::poisoned.clear();
        EXPECT_EQ(ch.size(), 0u);
        EXPECT_TRUE(ch.try_send(fragile(8)));
        auto next = ch.try_receive();
        EXPECT_TRUE(next && next->id == 8);
    };
    run_bounded(body());
    coil::set_log_handler(std::move(previous));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].find("coil::channel"), std::string::npos) << errors[0];
}

// A parked waiter whose task is destroyed leaves the queue: nothing is handed to the freed frame
// (ASan would report it) and the primitive carries on as if it had never waited.
TEST_P(SyncTest, WaitersDestroyedWhileParkedAreUnlinked) {
    auto body = []() -> task<void> {
        coil::channel<int> ch(1);
        coil::mutex m;
        coil::event e;
        auto held = m.try_lock();
        std::optional<int> got;
        bool locked = false;
        int woken = 0;
        std::optional<coil::task_group> doomed(std::in_place);
        doomed->spawn(receive_into(ch, got));
        doomed->spawn(lock_and_flag(m, locked));
        doomed->spawn(wait_then_count(e, woken));
        co_await yield_turns(2);  // all three parked
        doomed.reset();
        EXPECT_TRUE(ch.try_send(3));  // queued: no receiver left
        EXPECT_EQ(ch.size(), 1u);
        held.reset();  // no waiter left: the mutex is free
        EXPECT_FALSE(m.is_locked());
        e.set();
        EXPECT_FALSE(got.has_value());
        EXPECT_FALSE(locked);
        EXPECT_EQ(woken, 0);
        auto v = co_await ch.receive();
        EXPECT_TRUE(v && *v == 3);
    };
    run_bounded(body());
}

// ---- broadcast -----------------------------------------------------------------------------

task<std::vector<int>> receive_until_closed(coil::broadcast<int>::receiver r) {
    std::vector<int> got;
    for (;;) {
        auto v = co_await r.receive();
        if (!v) {
            EXPECT_EQ(v.error(), coil::errc::closed);
            co_return got;
        }
        got.push_back(*v);
    }
}

TEST_P(SyncTest, BroadcastDeliversEveryValueToEveryReceiver) {
    auto body = []() -> task<void> {
        coil::broadcast<int> b(8);
        auto sender = [](coil::broadcast<int>& bc) -> task<void> {
            for (int i = 0; i < 5; ++i) {
                EXPECT_TRUE(bc.send(int{i}));
                co_await coil::yield();
            }
            bc.close();
            EXPECT_EQ(bc.send(9).error(), coil::errc::closed);
        };
        auto [a, c, unused] = co_await coil::when_all(receive_until_closed(b.subscribe()),
                                                      receive_until_closed(b.subscribe()), sender(b));
        EXPECT_EQ(a, (std::vector<int>{0, 1, 2, 3, 4}));
        EXPECT_EQ(c, (std::vector<int>{0, 1, 2, 3, 4}));
    };
    run_bounded(body());
}

// Trial of issue 11: a closed broadcast's error printed "channel closed"; errc::closed is shared by
// channel and broadcast, and its message now names both.
TEST_P(SyncTest, ClosedBroadcastErrorMessageDoesNotSayOnlyChannel) {
    auto body = []() -> task<void> {
        coil::broadcast<int> b(2);
        auto rx = b.subscribe();
        b.close();
        auto r = co_await rx.receive();
        EXPECT_FALSE(r);
        if (!r) {
            EXPECT_EQ(r.error(), coil::errc::closed);
            EXPECT_EQ(r.error().message(), "channel or broadcast closed");
        }
        coil::channel<int> ch(1);
        ch.close();
        auto c = co_await ch.receive();
        EXPECT_FALSE(c);
        if (!c) {
            EXPECT_EQ(c.error().message(), "channel or broadcast closed");
        }
    };
    run_bounded(body());
}

TEST_P(SyncTest, LaggingBroadcastReceiverGetsLaggedOnceThenTheOldestValueKept) {
    auto body = []() -> task<void> {
        coil::broadcast<int> b(2);
        auto early = b.subscribe();
        EXPECT_EQ(early.try_receive().error(), std::errc::operation_would_block);
        for (int i = 1; i <= 5; ++i) EXPECT_TRUE(b.send(int{i}));
        auto late = b.subscribe();  // sees only what is sent from now on
        auto lag = co_await early.receive();
        EXPECT_EQ(lag.error(), coil::errc::lagged);
        EXPECT_EQ(early.lagged_count(), 3u);  // 1, 2, 3 were overwritten
        auto four = co_await early.receive();
        auto five = co_await early.receive();
        EXPECT_TRUE(four && *four == 4);
        EXPECT_TRUE(five && *five == 5);
        EXPECT_TRUE(b.send(6));
        b.close();
        auto six = co_await late.receive();
        EXPECT_TRUE(six && *six == 6);
        auto end = co_await late.receive();
        EXPECT_EQ(end.error(), coil::errc::closed);
        auto early_six = co_await early.receive();  // drains what it had not read, then closed
        EXPECT_TRUE(early_six && *early_six == 6);
        EXPECT_EQ(early.try_receive().error(), coil::errc::closed);
    };
    run_bounded(body());
}

TEST_P(SyncTest, CancelledBroadcastReceiveTakesNothing) {
    auto body = []() -> task<void> {
        coil::broadcast<int> b(4);
        auto r = b.subscribe();
        coil::cancel_source source;
        auto cancelled = [](coil::broadcast<int>::receiver& rr) -> task<std::error_code> {
            auto v = co_await rr.receive();
            co_return v.error();
        }(r);
        cancelled.set_cancel_token(source.token());
        auto [code, unused] = co_await coil::when_all(std::move(cancelled), cancel_after_turns(source, 2));
        EXPECT_EQ(code, std::errc::operation_canceled);
        EXPECT_TRUE(b.send(11));
        auto v = co_await r.receive();
        EXPECT_TRUE(v && *v == 11);
    };
    run_bounded(body());
}

COIL_INSTANTIATE_BACKEND_TEST(SyncTest);

}  // namespace
