#include "coil/runtime/thread_pool.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "coil/runtime/cancel.hpp"
#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/sleep.hpp"
#include "coil/runtime/task.hpp"
#include "coil/runtime/task_group.hpp"
#include "support/backend_test.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;

class ThreadPoolTest : public coil::testing::BackendTest {};

// Holds pool threads until the test opens it (each wait is bounded: 20 s, then it gives up so a
// broken test fails instead of hanging).
class gate {
public:
    void open() {
        {
            std::lock_guard lock(mutex_);
            open_ = true;
        }
        cv_.notify_all();
    }
    bool wait() {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, 20s, [&] { return open_; });
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool open_ = false;
};

// ASSERT_* returns, which a coroutine cannot: this fails the test and leaves the coroutine.
#define CO_ASSERT_TRUE(cond)                        \
    do {                                            \
        if (!(cond)) {                              \
            ADD_FAILURE() << "expected: " #cond;    \
            co_return;                              \
        }                                           \
    } while (false)

// Waits on the loop (sleeping 1 ms at a time, at most 20 s) until `ready()` holds.
template <class Pred>
task<bool> eventually(Pred ready) {
    for (int i = 0; i < 20'000; ++i) {
        if (ready()) co_return true;
        co_await coil::sleep_for(1ms);
    }
    co_return ready();
}

// Spawns in `group` one task per slot of `results`, each running a pool job that counts itself
// in `ran` and answers 100 + its place in that count.
void spawn_counting_jobs(coil::task_group& group, coil::thread_pool& pool, std::atomic<int>& ran,
                         std::vector<coil::result<int>>& results) {
    for (auto& slot : results) {
        group.spawn([](coil::thread_pool& p, std::atomic<int>& n, coil::result<int>& out) -> task<void> {
            out = co_await p.run([&] { return n.fetch_add(1) + 100; });
        }(pool, ran, slot));
    }
}

TEST_P(ThreadPoolTest, ReturnsTheValueAndResumesOnTheHomeLoop) {
    coil::thread_pool pool({.threads = 2, .queue_capacity = 4});
    run([&]() -> task<void> {
        const auto home = std::this_thread::get_id();
        auto ran_on = co_await pool.run([] { return std::this_thread::get_id(); });
        CO_ASSERT_TRUE(ran_on.has_value());
        EXPECT_NE(*ran_on, home);  // it ran on a pool thread
        EXPECT_EQ(std::this_thread::get_id(), home);  // and we are back on the loop's thread

        auto text = co_await pool.run([] { return std::string(1000, 'x'); });
        CO_ASSERT_TRUE(text.has_value());
        EXPECT_EQ(*text, std::string(1000, 'x'));

        int side_effect = 0;
        coil::result<void> nothing = co_await pool.run([&] { side_effect = 7; });
        EXPECT_TRUE(nothing.has_value());
        EXPECT_EQ(side_effect, 7);
        EXPECT_EQ(std::this_thread::get_id(), home);
    }());
}

// Regression: with a lambda holding init-captured strings written inside the co_await expression,
// GCC 12 relocated the closure bitwise (its short strings then pointed into the coroutine frame,
// and the pool thread freed frame memory: ASan bad-free). Named first, as thread_pool.hpp says,
// the closure is moved by its move constructor.
TEST_P(ThreadPoolTest, LambdaWithInitCapturedStringsNamedBeforeTheAwait) {
    coil::thread_pool pool({.threads = 1});
    run([&]() -> task<void> {
        std::string short_text = "localhost";
        std::string long_text(100, 'x');
        auto job = [s = std::move(short_text), l = std::move(long_text)] {
            return s + "/" + std::to_string(l.size());
        };
        auto r = co_await pool.run(std::move(job));
        CO_ASSERT_TRUE(r.has_value());
        EXPECT_EQ(*r, "localhost/100");
        auto by_ref = [s = std::string("abc")](std::stop_token) { return s.size(); };
        auto d = co_await coil::offload(by_ref);  // an lvalue: copied into the job
        CO_ASSERT_TRUE(d.has_value());
        EXPECT_EQ(*d, 3u);
    }());
}

TEST_P(ThreadPoolTest, ExceptionIsRethrownInTheAwaitingTaskOnItsLoop) {
    coil::thread_pool pool({.threads = 1});
    run([&]() -> task<void> {
        const auto home = std::this_thread::get_id();
        std::thread::id thrown_on;
        try {
            (void)co_await pool.run([&]() -> int {
                thrown_on = std::this_thread::get_id();
                throw std::runtime_error("from the pool");
            });
            ADD_FAILURE() << "no exception";
        } catch (const std::runtime_error& e) {
            EXPECT_STREQ(e.what(), "from the pool");
            EXPECT_EQ(std::this_thread::get_id(), home);
        }
        EXPECT_NE(thrown_on, home);
    }());
}

TEST_P(ThreadPoolTest, OffloadUsesTheDefaultPool) {
    run([]() -> task<void> {
        const auto home = std::this_thread::get_id();
        auto r = co_await coil::offload([] { return std::this_thread::get_id(); });
        CO_ASSERT_TRUE(r.has_value());
        EXPECT_NE(*r, home);
        EXPECT_EQ(std::this_thread::get_id(), home);
        EXPECT_GE(coil::thread_pool::default_pool().threads(), 1u);
    }());
}

// 10,000 jobs against a queue of 4: the queue never holds more than 4, the rest wait (their
// coroutines suspended, the loop running), and every job runs once and reaches its awaiter.
TEST_P(ThreadPoolTest, TenThousandInFlightWithASmallQueueLoseNothing) {
    constexpr int jobs = 10'000;
    coil::thread_pool pool({.threads = 2, .queue_capacity = 4});
    gate held;
    std::atomic<int> ran{0};
    run([&]() -> task<void> {
        const auto home = std::this_thread::get_id();
        std::vector<int> got(jobs, -1);
        int wrong_thread = 0;
        coil::task_group group(co_await coil::current_cancel_token());
        for (int i = 0; i < jobs; ++i) {
            group.spawn([](coil::thread_pool& p, gate& g, std::atomic<int>& n, int k, int& slot,
                           int& wrong, std::thread::id h) -> task<void> {
                auto r = co_await p.run([&g, &n, k] {
                    (void)g.wait();
                    n.fetch_add(1);
                    return k * 2;
                });
                if (std::this_thread::get_id() != h) ++wrong;
                slot = r ? *r : -2;
            }(pool, held, ran, i, got[static_cast<std::size_t>(i)], wrong_thread, home));
        }
        co_await coil::yield();  // every child has run up to its co_await
        // The gate is shut: at most 2 jobs run and nothing completes, so these hold exactly.
        EXPECT_LE(pool.queued(), 4u);
        EXPECT_GE(pool.waiting(), static_cast<std::size_t>(jobs - 4 - 2));
        EXPECT_EQ(ran.load(), 0);
        held.open();
        co_await group.join();
        EXPECT_EQ(wrong_thread, 0);
        int mismatched = 0;
        for (int i = 0; i < jobs; ++i) mismatched += got[static_cast<std::size_t>(i)] != i * 2;
        EXPECT_EQ(mismatched, 0);
    }());
    EXPECT_EQ(ran.load(), jobs);
    EXPECT_EQ(pool.queued() + pool.waiting() + pool.running(), 0u);
}

TEST_P(ThreadPoolTest, CancelBeforeStartDropsTheJob) {
    coil::thread_pool pool({.threads = 1, .queue_capacity = 4});
    gate held;
    std::atomic<bool> blocker_started{false};
    std::atomic<bool> second_ran{false};
    run([&]() -> task<void> {
        coil::task_group blockers(co_await coil::current_cancel_token());
        blockers.spawn([](coil::thread_pool& p, gate& g, std::atomic<bool>& started) -> task<void> {
            auto r = co_await p.run([&] {
                started = true;
                return g.wait();
            });
            EXPECT_TRUE(r.has_value() && *r);
        }(pool, held, blocker_started));
        const bool started = co_await eventually([&] { return blocker_started.load(); });
        CO_ASSERT_TRUE(started);

        coil::task_group victims(co_await coil::current_cancel_token());
        coil::result<int> outcome = 0;
        victims.spawn([](coil::thread_pool& p, std::atomic<bool>& ran,
                         coil::result<int>& out) -> task<void> {
            out = co_await p.run([&] {
                ran = true;
                return 1;
            });
        }(pool, second_ran, outcome));
        co_await coil::yield();
        EXPECT_EQ(pool.queued(), 1u);
        victims.cancel();
        co_await victims.join();  // ends while the only pool thread is still held
        CO_ASSERT_TRUE(!(outcome.has_value()));
        EXPECT_EQ(outcome.error(), std::errc::operation_canceled);
        EXPECT_EQ(pool.queued(), 0u);
        held.open();
        co_await blockers.join();
    }());
    pool.stop();
    EXPECT_FALSE(second_ran.load());
}

TEST_P(ThreadPoolTest, CancelBeforeSubmittingNeverSubmits) {
    coil::thread_pool pool({.threads = 1});
    std::atomic<bool> ran{false};
    run([&]() -> task<void> {
        coil::cancel_source src;
        src.request_cancel();
        auto t = [](coil::thread_pool& p, std::atomic<bool>& r) -> task<coil::result<int>> {
            co_return co_await p.run([&] {
                r = true;
                return 1;
            });
        }(pool, ran);
        t.set_cancel_token(src.token());
        auto out = co_await t;
        CO_ASSERT_TRUE(!(out.has_value()));
        EXPECT_EQ(out.error(), std::errc::operation_canceled);
    }());
    pool.stop();
    EXPECT_FALSE(ran.load());
}

// A running job cannot be interrupted: it is offered the stop request, and the await yields what
// it returned once it did.
TEST_P(ThreadPoolTest, CancelWhileRunningRequestsStopAndWaitsForTheResult) {
    coil::thread_pool pool({.threads = 1});
    std::atomic<bool> started{false};
    run([&]() -> task<void> {
        const auto home = std::this_thread::get_id();
        coil::task_group group(co_await coil::current_cancel_token());
        coil::result<std::string> outcome = std::string();
        group.spawn([](coil::thread_pool& p, std::atomic<bool>& s,
                       coil::result<std::string>& out) -> task<void> {
            out = co_await p.run([&](std::stop_token token) {
                s = true;
                for (int i = 0; i < 20'000 && !token.stop_requested(); ++i) {
                    std::this_thread::sleep_for(1ms);
                }
                return std::string(token.stop_requested() ? "stopped" : "not stopped");
            });
        }(pool, started, outcome));
        const bool running = co_await eventually([&] { return started.load(); });
        CO_ASSERT_TRUE(running);
        group.cancel();
        co_await group.join();
        EXPECT_EQ(std::this_thread::get_id(), home);
        CO_ASSERT_TRUE(outcome.has_value());
        EXPECT_EQ(*outcome, "stopped");
    }());
}

// abandon_on_cancel: the await ends at once; the job runs on and its result is discarded.
TEST_P(ThreadPoolTest, AbandonOnCancelEndsTheAwaitWhileTheJobStillRuns) {
    coil::thread_pool pool({.threads = 1});
    gate held;
    std::atomic<bool> started{false};
    std::atomic<bool> finished{false};
    run([&]() -> task<void> {
        coil::task_group group(co_await coil::current_cancel_token());
        coil::result<int> outcome = 0;
        group.spawn([](coil::thread_pool& p, gate& g, std::atomic<bool>& s, std::atomic<bool>& f,
                       coil::result<int>& out) -> task<void> {
            out = co_await p.run([&] {
                              s = true;
                              (void)g.wait();
                              f = true;
                              return 1;
                          }).abandon_on_cancel();
        }(pool, held, started, finished, outcome));
        const bool running = co_await eventually([&] { return started.load(); });
        CO_ASSERT_TRUE(running);
        group.cancel();
        co_await group.join();  // the job is still held on the gate
        EXPECT_FALSE(finished.load());
        CO_ASSERT_TRUE(!outcome.has_value());
        EXPECT_EQ(outcome.error(), std::errc::operation_canceled);
        held.open();
    }());
    pool.stop();
    EXPECT_TRUE(finished.load());
}

// Counts its live instances, to show that a discarded result is destroyed (not leaked).
struct counted {
    explicit counted(std::atomic<int>& live) : live_(&live) { live_->fetch_add(1); }
    counted(counted&& other) noexcept : live_(other.live_) { live_->fetch_add(1); }
    counted& operator=(counted&&) = delete;
    ~counted() { live_->fetch_sub(1); }
    std::atomic<int>* live_;
};

// The awaiting task is destroyed (with its loop) while its job runs: the job is asked to stop,
// finishes later, and its result is dropped without touching the destroyed frame or loop.
TEST_P(ThreadPoolTest, AwaitingTaskDestroyedWhileItsJobRuns) {
    coil::thread_pool pool({.threads = 1});
    gate held;
    std::atomic<bool> started{false};
    std::atomic<bool> saw_stop{false};
    std::atomic<int> live{0};
    bool resumed = false;
    {
        coil::event_loop loop(options());
        loop.spawn([](coil::thread_pool& p, gate& g, std::atomic<bool>& s, std::atomic<bool>& stop,
                      std::atomic<int>& l, bool& res) -> task<void> {
            auto r = co_await p.run([&](std::stop_token token) {
                s = true;
                (void)g.wait();
                stop = token.stop_requested();
                return counted(l);
            });
            res = true;
        }(pool, held, started, saw_stop, live, resumed));
        loop.run([&]() -> task<void> {
            const bool running = co_await eventually([&] { return started.load(); });
            EXPECT_TRUE(running);
        }());
    }  // the loop destroys the spawned task while the job is held on the gate
    held.open();
    pool.stop();  // waits for the job
    EXPECT_FALSE(resumed);
    EXPECT_TRUE(saw_stop.load());
    EXPECT_EQ(live.load(), 0);
}

// The race the previous test pins down, left to chance: jobs finish while their tasks are being
// destroyed, at every point of the hand-over. Run under TSan and ASan in ./dev test.
TEST_P(ThreadPoolTest, CompletionRacingTheDestructionOfTheAwaiterIsSafe) {
    coil::thread_pool pool({.threads = 2, .queue_capacity = 2});
    std::atomic<int> live{0};
    for (int round = 0; round < 200; ++round) {
        coil::event_loop loop(options());
        for (int i = 0; i < 4; ++i) {
            loop.spawn([](coil::thread_pool& p, std::atomic<int>& l) -> task<void> {
                auto r = co_await p.run([&] { return counted(l); });
                (void)r;
            }(pool, live));
        }
        loop.run([](int turns) -> task<void> {
            for (int t = 0; t < turns; ++t) co_await coil::yield();
        }(round % 7));
    }
    pool.stop();
    EXPECT_EQ(live.load(), 0);
}

// A job that shuts its own pool down (stop() on a pool thread) must not join its own thread: the
// jobs queued behind it come back cancelled, its own value is still delivered, and a post it
// makes to the awaiting loop runs there. The destructor's stop() later is a no-op.
TEST_P(ThreadPoolTest, AJobThatStopsItsOwnPoolAndPostsToItsLoopCompletes) {
    gate held;
    std::atomic<bool> started{false};
    std::atomic<int> others_ran{0};
    std::thread::id loop_thread;
    std::thread::id posted_ran_on;
    bool posted_ran = false;
    {
        coil::thread_pool pool({.threads = 1, .queue_capacity = 4});
        run([&]() -> task<void> {
            loop_thread = std::this_thread::get_id();
            coil::event_loop& loop = coil::event_loop::current_or_throw();
            coil::task_group group(co_await coil::current_cancel_token());
            coil::result<int> first = 0;
            std::vector<coil::result<int>> rest(2, 0);
            group.spawn([](coil::thread_pool& p, coil::event_loop& l, gate& g, std::atomic<bool>& s,
                           std::thread::id& on, bool& ran, coil::result<int>& out) -> task<void> {
                auto job = [&p, &l, &g, &s, &on, &ran] {
                    s = true;
                    if (!g.wait()) return 0;
                    p.stop();  // from inside: cancels the queued jobs, detaches this thread
                    l.post([&on, &ran] {
                        on = std::this_thread::get_id();
                        ran = true;
                    });
                    return 7;
                };
                out = co_await p.run(std::move(job));
            }(pool, loop, held, started, posted_ran_on, posted_ran, first));
            const bool running = co_await eventually([&] { return started.load(); });
            CO_ASSERT_TRUE(running);
            spawn_counting_jobs(group, pool, others_ran, rest);
            co_await coil::yield();
            EXPECT_EQ(pool.queued(), 2u);
            held.open();
            co_await group.join();
            CO_ASSERT_TRUE(first.has_value());
            EXPECT_EQ(*first, 7);
            for (auto& r : rest) {
                EXPECT_FALSE(r.has_value());
                if (!r) {
                    EXPECT_EQ(r.error(), std::errc::operation_canceled);
                }
            }
            const bool posted = co_await eventually([&] { return posted_ran; });
            EXPECT_TRUE(posted);
            auto late = co_await pool.run([] { return 5; });
            EXPECT_FALSE(late.has_value());
        }());
    }  // ~thread_pool: stop() again, with the detached worker perhaps still finishing
    EXPECT_EQ(others_ran.load(), 0);
    EXPECT_EQ(posted_ran_on, loop_thread);
}

// stop() is callable from any thread and idempotent, so two threads may call it at once (a
// shutdown path and a destructor, say). Both used to join the same std::threads: glibc's second
// pthread_join fails (EINVAL, thrown as std::system_error, fatal in the destructor), and a job
// calling stop() detached its own thread while the other caller was joining it.
TEST_P(ThreadPoolTest, ConcurrentStopsAndAStopFromInsideAJobAllReturn) {
    coil::thread_pool pool({.threads = 2, .queue_capacity = 4});
    gate held;
    std::atomic<int> started{0};
    std::atomic<int> stoppers_in{0};
    std::atomic<int> stop_errors{0};
    std::vector<std::thread> stoppers;
    run([&]() -> task<void> {
        coil::task_group group(co_await coil::current_cancel_token());
        std::vector<coil::result<int>> out(2, 0);
        for (int i = 0; i < 2; ++i) {
            group.spawn([](coil::thread_pool& p, gate& g, std::atomic<int>& s, std::atomic<int>& errors,
                           bool stop_inside, coil::result<int>& o) -> task<void> {
                auto job = [&p, &g, &s, &errors, stop_inside] {
                    ++s;
                    if (!g.wait()) return 0;
                    if (stop_inside) {
                        try {
                            p.stop();
                        } catch (const std::system_error&) {
                            ++errors;
                        }
                    }
                    return 1;
                };
                o = co_await p.run(std::move(job));
            }(pool, held, started, stop_errors, i == 0, out[static_cast<std::size_t>(i)]));
        }
        const bool running = co_await eventually([&] { return started.load() == 2; });
        CO_ASSERT_TRUE(running);
        for (int i = 0; i < 2; ++i) {
            stoppers.emplace_back([&] {
                ++stoppers_in;
                try {
                    pool.stop();  // joins both pool threads, each held in its job
                } catch (const std::system_error&) {
                    ++stop_errors;
                }
            });
        }
        const bool both_in = co_await eventually([&] { return stoppers_in.load() == 2; });
        CO_ASSERT_TRUE(both_in);
        co_await coil::sleep_for(100ms);  // both are waiting in stop() by now
        held.open();
        co_await group.join();
        for (auto& o : out) {
            EXPECT_TRUE(o.has_value());
            if (o) {
                EXPECT_EQ(*o, 1);
            }
        }
    }());
    for (auto& t : stoppers) t.join();
    EXPECT_EQ(stop_errors.load(), 0);
}

// stop() completes queued and waiting jobs as cancelled at once (they never run), and waits for
// the running one, whose result is still delivered.
TEST_P(ThreadPoolTest, ShutdownCancelsQueuedWorkAndWaitsForRunningWork) {
    coil::thread_pool pool({.threads = 1, .queue_capacity = 2});
    gate held;
    std::atomic<bool> started{false};
    std::atomic<int> others_ran{0};
    std::atomic<bool> stop_returned{false};
    std::thread stopper;
    run([&]() -> task<void> {
        coil::task_group group(co_await coil::current_cancel_token());
        coil::result<int> first = 0;
        std::vector<coil::result<int>> rest(5, 0);
        group.spawn([](coil::thread_pool& p, gate& g, std::atomic<bool>& s,
                       coil::result<int>& out) -> task<void> {
            out = co_await p.run([&] {
                s = true;
                return g.wait() ? 1 : 0;
            });
        }(pool, held, started, first));
        const bool running = co_await eventually([&] { return started.load(); });
        CO_ASSERT_TRUE(running);
        spawn_counting_jobs(group, pool, others_ran, rest);
        co_await coil::yield();
        EXPECT_EQ(pool.queued(), 2u);
        EXPECT_EQ(pool.waiting(), 3u);

        stopper = std::thread([&] {
            pool.stop();
            stop_returned = true;
        });
        // The five queued and waiting jobs come back cancelled while the first still runs.
        const bool delivered = co_await eventually([&] {
            for (auto& r : rest) {
                if (r.has_value()) return false;
            }
            return true;
        });
        CO_ASSERT_TRUE(delivered);
        for (auto& r : rest) EXPECT_EQ(r.error(), std::errc::operation_canceled);
        EXPECT_FALSE(stop_returned.load());  // held on the gate: stop() is still waiting for it
        held.open();
        co_await group.join();
        CO_ASSERT_TRUE(first.has_value());
        EXPECT_EQ(*first, 1);

        // A stopped pool takes nothing: the await ends at once.
        stopper.join();
        auto late = co_await pool.run([] { return 5; });
        CO_ASSERT_TRUE(!(late.has_value()));
        EXPECT_EQ(late.error(), std::errc::operation_canceled);
    }());
    if (stopper.joinable()) stopper.join();
    EXPECT_TRUE(stop_returned.load());
    EXPECT_EQ(others_ran.load(), 0);
}

// Regression (TSan): the pool thread was still inside event_loop::post (the eventfd write) when
// the loop had already run the posted completion, finished the task and was being destroyed. The
// awaiter now waits for the poster to leave before it finishes. Many short loops, one job each.
TEST_P(ThreadPoolTest, LoopDestroyedRightAfterTheCompletionIsSafe) {
    coil::thread_pool pool({.threads = 2});
    int sum = 0;
    for (int round = 0; round < 300; ++round) {
        sum += run([&]() -> task<int> {
            auto r = co_await pool.run([] { return 1; });
            co_return r ? *r : 0;
        }());
    }
    EXPECT_EQ(sum, 300);
}

// A loop waiting only for a pool job is not a deadlock: the awaiter holds external_work.
TEST_P(ThreadPoolTest, LoopWaitsForTheJobInsteadOfReportingADeadlock) {
    coil::thread_pool pool({.threads = 1});
    run([&]() -> task<void> {
        auto r = co_await pool.run([] {
            std::this_thread::sleep_for(20ms);
            return 3;
        });
        CO_ASSERT_TRUE(r.has_value());
        EXPECT_EQ(*r, 3);
    }());
}

// pool_options::nice: every pool thread runs at the nice value it was given; the loop thread
// keeps its own. Without the option the threads inherit the creator's.
TEST_P(ThreadPoolTest, PoolThreadsRunAtTheNiceValueTheyWereGiven) {
    errno = 0;
    const int inherited = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
    ASSERT_EQ(errno, 0);
    const int wanted = inherited < 19 ? inherited + 3 > 19 ? 19 : inherited + 3 : 19;
    ASSERT_NE(wanted, inherited) << "the test process already runs at nice 19";
    coil::thread_pool niced({.threads = 2, .nice = wanted});
    coil::thread_pool plain({.threads = 1});
    const auto thread_nice = [] { return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid())); };
    run([&]() -> task<void> {
        std::vector<coil::result<int>> got;
        for (int i = 0; i < 4; ++i) got.push_back(co_await niced.run(thread_nice));
        for (auto& n : got) {
            CO_ASSERT_TRUE(n.has_value());
            EXPECT_EQ(*n, wanted);
        }
        auto p = co_await plain.run(thread_nice);
        CO_ASSERT_TRUE(p.has_value());
        EXPECT_EQ(*p, inherited);
        EXPECT_EQ(thread_nice(), inherited);  // the loop thread is untouched
    }());
}

TEST(ThreadPoolOptionsTest, NiceOutOfRangeIsInvalidArgument) {
    EXPECT_THROW(coil::thread_pool({.threads = 1, .nice = 20}), std::invalid_argument);
    EXPECT_THROW(coil::thread_pool({.threads = 1, .nice = -21}), std::invalid_argument);
}

// A nice the process may not take (below its own, without CAP_SYS_NICE: here an unprivileged
// child with RLIMIT_NICE 0) is an error from the constructor, not a pool that silently runs at
// another priority. In a child process, so that dropping privileges stays there.
std::size_t threads_in_this_process() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& t : std::filesystem::directory_iterator("/proc/self/task")) ++n;
    return n;
}

[[noreturn]] void exit_with_nice_minus_20_unprivileged() {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) std::_Exit(4);
    const rlimit none{0, 0};
    if (::setrlimit(RLIMIT_NICE, &none) != 0) std::_Exit(5);
    // Counted before, not assumed 1: a sanitizer may run threads of its own (TSan starts one at
    // the first thread creation, hence the thread made and joined first).
    std::thread([] {}).join();
    const std::size_t before = threads_in_this_process();
    try {
        coil::thread_pool pool({.threads = 2, .nice = -20});
    } catch (const std::system_error& e) {
        if (e.code() != std::errc::permission_denied) std::_Exit(2);
        // The constructor stopped and joined the threads it had started.
        std::_Exit(threads_in_this_process() == before ? 0 : 6);
    }
    std::_Exit(3);
}

TEST(ThreadPoolOptionsTest, NiceThatIsNotPermittedIsSystemErrorAndNoThreadIsLeft) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");  // the child re-runs this test alone: no fork
                                                     // of a process that has threads
    EXPECT_EXIT(exit_with_nice_minus_20_unprivileged(), ::testing::ExitedWithCode(0), "");
}

COIL_INSTANTIATE_BACKEND_TEST(ThreadPoolTest);

}  // namespace
