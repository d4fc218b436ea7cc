// event_loop::post from other threads must wake a loop that is blocked in the kernel, by either
// wake mechanism (io_uring: IORING_OP_MSG_RING or the eventfd; epoll: the eventfd), with no
// wake lost when posts race the loop's drain, from threads that come and go, from a thread's
// exit, and in a forked child.
//
// Each wait is bounded: the loop waits for the post or a 20 s timer, whichever comes first, and
// the test asserts that the post won (the timer alone would also end a blocked poll, so a lost
// wake shows as a failure, not a hang).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/io.hpp"
#include "coil/runtime/log.hpp"
#include "coil/runtime/sleep.hpp"
#include "coil/runtime/sync/event.hpp"
#include "coil/runtime/task_group.hpp"
#include "coil/runtime/when_any.hpp"
#include "support/sockets.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;

constexpr auto bound = 20s;  // far above any wake; reached only if a wake was lost

int open_fd_count() {
    int count = 0;
    for (int fd = 0; fd < 4096; ++fd) {
        if (::fcntl(fd, F_GETFD) != -1) ++count;
    }
    return count;
}

bool kernel_has_msg_ring_wake() {
    utsname name{};
    if (::uname(&name) != 0) return false;
    int major = 0;
    int minor = 0;
    if (std::sscanf(name.release, "%d.%d", &major, &minor) != 2) return false;
    return major > 6 || (major == 6 && minor >= 13);  // IORING_REGISTER_SEND_MSG_RING
}

class CrossThreadWakeTest : public ::testing::TestWithParam<std::tuple<coil::backend_kind, bool>> {
protected:
    void SetUp() override {
        ::unsetenv("COIL_BACKEND");
        if (!coil::backend_available(backend())) GTEST_SKIP() << "backend not available here";
    }
    coil::backend_kind backend() const { return std::get<0>(GetParam()); }
    bool msg_ring_allowed() const { return std::get<1>(GetParam()); }
    bool uses_msg_ring() const {
        return backend() == coil::backend_kind::io_uring && msg_ring_allowed() && kernel_has_msg_ring_wake();
    }
    coil::loop_options options() const {
        coil::loop_options o;
        o.backend = backend();
        o.wake_msg_ring = msg_ring_allowed();
        return o;
    }
};

// True if `e` was set before the bound ran out.
task<bool> wait_bounded(coil::event& e) {
    auto waited = co_await coil::when_any(e.wait(), coil::sleep_for(bound));
    co_return waited.index == 0;
}

TEST_P(CrossThreadWakeTest, TheWakeMethodIsWhatWasAskedForAndWhatTheKernelHas) {
    coil::event_loop loop(options());
    EXPECT_EQ(loop.wake_method(), uses_msg_ring() ? "IORING_OP_MSG_RING" : "eventfd");
}

TEST_P(CrossThreadWakeTest, APostWakesALoopBlockedWithNothingElseToDo) {
    coil::event_loop loop(options());
    coil::event posted;
    auto body = [&]() -> task<bool> {
        coil::event_loop::external_work pending(loop);
        std::thread poster([&] {
            std::this_thread::sleep_for(20ms);  // let the loop block first (it may not: fine)
            loop.post([&] { posted.set(); });
        });
        const bool woke = co_await wait_bounded(posted);
        poster.join();
        co_return woke;
    };
    EXPECT_TRUE(loop.run(body()));
}

// A pool thread and the loop take turns 2,000 times; every turn the loop blocks until the
// other thread's post wakes it (the round trip offload makes).
TEST_P(CrossThreadWakeTest, TwoThousandRoundTripsEachWakeTheBlockedLoop) {
    coil::event_loop loop(options());
    constexpr int rounds = 2000;
    std::mutex mutex;
    std::condition_variable cv;
    int requested = 0;
    bool quit = false;
    coil::event answered;
    std::thread worker([&] {
        int served = 0;
        std::unique_lock lock(mutex);
        for (;;) {
            cv.wait(lock, [&] { return quit || requested > served; });
            if (quit) return;
            ++served;
            lock.unlock();
            loop.post([&] { answered.set(); });
            lock.lock();
        }
    });
    auto body = [&]() -> task<int> {
        coil::event_loop::external_work pending(loop);
        int done = 0;
        for (; done < rounds; ++done) {
            answered.reset();
            {
                std::lock_guard lock(mutex);
                ++requested;
            }
            cv.notify_one();
            const bool woke = co_await wait_bounded(answered);  // GCC 12: never in a condition
            if (!woke) break;
        }
        co_return done;
    };
    const int done = loop.run(body());
    {
        std::lock_guard lock(mutex);
        quit = true;
    }
    cv.notify_one();
    worker.join();
    EXPECT_EQ(done, rounds);
}

// Posts race the loop's drain from four threads at once; the loop never polls on a timer of its
// own, so a post whose wake was wrongly skipped (wakes are coalesced per drain) would leave the
// count short until the bound.
TEST_P(CrossThreadWakeTest, PostsRacingTheDrainFromFourThreadsAreAllRunWithoutPolling) {
    coil::event_loop loop(options());
    constexpr int threads = 4;
    constexpr int per_thread = 5000;
    int count = 0;  // loop thread only
    coil::event all_in;
    auto body = [&]() -> task<bool> {
        coil::event_loop::external_work pending(loop);
        std::vector<std::thread> posters;
        for (int t = 0; t < threads; ++t) {
            posters.emplace_back([&] {
                for (int i = 0; i < per_thread; ++i) {
                    loop.post([&] {
                        if (++count == threads * per_thread) all_in.set();
                    });
                    if (i % 64 == 0) std::this_thread::yield();  // let the loop drain mid-stream
                }
            });
        }
        const bool woke = co_await wait_bounded(all_in);
        for (auto& p : posters) p.join();
        co_return woke;
    };
    EXPECT_TRUE(loop.run(body()));
    EXPECT_EQ(count, threads * per_thread);
}

// A thread that posts `fn` to `loop` once told to (post_now_and_wait, which returns after that
// post has returned, or after the bound), then ends; joined by the destructor (never told, it
// ends without posting).
class poster_on_cue {
public:
    poster_on_cue(coil::event_loop& loop, std::function<void()> fn)
        : thread_([this, &loop, fn = std::move(fn)]() mutable {
              std::unique_lock lock(mutex_);
              if (!cv_.wait_for(lock, bound, [&] { return go_ || quit_; }) || !go_) return;
              lock.unlock();
              loop.post(std::move(fn));
              lock.lock();
              posted_ = true;
              cv_.notify_all();
          }) {}
    poster_on_cue(const poster_on_cue&) = delete;
    poster_on_cue& operator=(const poster_on_cue&) = delete;
    ~poster_on_cue() {
        {
            std::lock_guard lock(mutex_);
            quit_ = true;  // never told: it ends without posting
        }
        cv_.notify_all();
        thread_.join();
    }
    void post_now_and_wait() {
        std::unique_lock lock(mutex_);
        go_ = true;
        cv_.notify_all();
        cv_.wait_for(lock, bound, [&] { return posted_; });
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool go_ = false;
    bool quit_ = false;
    bool posted_ = false;
    std::thread thread_;  // last: starts after the rest exists
};

// Regression (kind: a wake skipped because the loop's "work posted" flag was still raised): a post
// made while the loop runs earlier posted work must wake the loop again (or be seen by it), even
// though that post finds the flag the earlier post raised. Here the posted work itself waits
// until another thread's post has returned.
TEST_P(CrossThreadWakeTest, APostMadeWhileEarlierPostedWorkRunsIsNotLeftBehind) {
    coil::event_loop loop(options());
    coil::event second_ran;
    poster_on_cue poster(loop, [&] { second_ran.set(); });
    auto body = [&]() -> task<bool> {
        coil::event_loop::external_work pending(loop);
        // Runs inside the loop's drain of posted work: let the other thread post now.
        loop.post([&] { poster.post_now_and_wait(); });
        co_return co_await wait_bounded(second_ran);
    };
    EXPECT_TRUE(loop.run(body()));
}

// Regression (kind: a wake reaped before the loop waits, with the posted flag raised): posted
// work that destroys a task with I/O in flight waits in the kernel (abandon) until that I/O has
// ended, reaping whatever else has arrived meanwhile, a wake included. A post made while that
// work ran found the flag lowered by the drain's take and woke the loop; its wake (the message,
// or the eventfd read's completion) is then gone, and the loop must not wait for another.
task<void> recv_forever(int fd) {
    std::array<std::byte, 16> buffer{};
    (void)co_await coil::recv(fd, buffer);
}

TEST_P(CrossThreadWakeTest, APostWhoseWakeAnAbandonInPostedWorkReapedIsNotLeftBehind) {
    coil::event_loop loop(options());
    auto pair = coil::testing::make_socket_pair();
    coil::event second_ran;
    poster_on_cue poster(loop, [&] { second_ran.set(); });
    auto body = [&]() -> task<bool> {
        coil::event_loop::external_work pending(loop);
        std::optional<coil::task_group> reader(std::in_place);
        reader->spawn(recv_forever(pair.a.get()));
        co_await coil::sleep_for(2ms);  // the recv now waits in the kernel (and the wake read)
        EXPECT_EQ(loop.io_in_flight(), 1u);
        loop.post([&] {
            poster.post_now_and_wait();  // inside the loop's drain: the other thread posts now
            reader.reset();  // io_uring: abandon() waits for the recv's cancellation, reaping the wake
        });
        co_return co_await wait_bounded(second_ran);
    };
    EXPECT_TRUE(loop.run(body()));
}

// Regression (kind: wake messages piling up while the loop stays out of the kernel): a loop busy
// with ready tasks and no I/O in flight skips the kernel every turn, yet drains its posts every
// turn, so each next post finds the flag lowered and wakes. On a DEFER_TASKRUN ring a message
// becomes a CQE only when the loop enters the kernel: before the fix every such post sent one,
// kernel task work that piled up (one per post) and then flooded the CQ (16,384 entries) when
// the loop did enter. Here 2,000 posts are each drained in a turn of their own while the loop
// spins; then one wait reaps what was sent. One message (or eventfd read, or epoll event) not
// yet reaped stands for all later wakes, so the whole run reaps one, and never more than a few.
TEST_P(CrossThreadWakeTest, WakesSentWhileABusyLoopStaysOutOfTheKernelDoNotPileUp) {
    coil::event_loop loop(options());
    constexpr int posts = 2000;
    std::atomic<int> ran{0};
    std::atomic<bool> give_up{false};
    auto body = [&]() -> task<std::uint64_t> {
        coil::event_loop::external_work pending(loop);
        co_await coil::sleep_for(1ms);  // one wait first (the eventfd read is armed then)
        EXPECT_EQ(loop.io_in_flight(), 0u);
        const std::uint64_t before = loop.stats().completions;
        std::thread poster([&] {
            for (int i = 0; i < posts && !give_up.load(); ++i) {
                loop.post([&] { ran.fetch_add(1); });
                // Lockstep: the next post comes after this one ran, so each is a drain of its own.
                while (ran.load() == i && !give_up.load()) std::this_thread::yield();
            }
        });
        const auto give_up_at = std::chrono::steady_clock::now() + bound;
        while (ran.load() < posts && std::chrono::steady_clock::now() < give_up_at) {
            co_await coil::yield();  // ready again at once: the loop never waits in the kernel
        }
        give_up.store(true);
        poster.join();
        co_await coil::sleep_for(1ms);  // enters the kernel: whatever was sent arrives, is reaped
        co_return loop.stats().completions - before;
    };
    const std::uint64_t reaped = loop.run(body());
    EXPECT_EQ(ran.load(), posts);
    EXPECT_LE(reaped, 3u);  // before the fix, on io_uring with MSG_RING: 2,000
}

// Regression (found in review): an exception out of one posted function made the loop drop the
// functions taken in the same batch (a thread pool's completion among them would have left its
// task waiting forever). Now it goes to the unhandled-exception handler and the rest run.
TEST_P(CrossThreadWakeTest, AThrowingPostedFunctionDoesNotDropTheOthersPostedWithIt) {
    coil::event_loop loop(options());
    std::vector<std::string> seen;
    loop.set_unhandled_exception_handler([&](std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            seen.emplace_back(ex.what());
        }
    });
    coil::event last_ran;
    int ran = 0;
    auto body = [&]() -> task<bool> {
        coil::event_loop::external_work pending(loop);
        std::thread poster([&] {  // all three before the loop's next drain: one batch
            loop.post([&] { ++ran; });
            loop.post([] { throw std::runtime_error("posted and thrown"); });
            loop.post([&] {
                ++ran;
                last_ran.set();
            });
        });
        poster.join();
        co_return co_await wait_bounded(last_ran);
    };
    EXPECT_TRUE(loop.run(body()));
    EXPECT_EQ(ran, 2);
    EXPECT_EQ(seen, std::vector<std::string>{"posted and thrown"});
}

// The default handler's log line says where the exception escaped (it said "a spawned task" for
// a posted function too).
TEST_P(CrossThreadWakeTest, AThrowingPostedFunctionIsLoggedAsAPostedFunctionByDefault) {
    std::vector<std::string> lines;
    auto previous = coil::set_log_handler([&](coil::log_level level, std::string_view msg) {
        if (level == coil::log_level::error) lines.emplace_back(msg);
    });
    {
        coil::event_loop loop(options());
        coil::event after;
        auto body = [&]() -> task<bool> {
            loop.post([] { throw std::runtime_error("from a post"); });
            loop.post([&] { after.set(); });
            co_return co_await wait_bounded(after);
        };
        EXPECT_TRUE(loop.run(body()));
    }
    coil::set_log_handler(std::move(previous));
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0], "exception escaped a posted function: from a post");
}

// An empty function is refused where it is posted (a programmer error), not on the loop later.
TEST_P(CrossThreadWakeTest, PostingAnEmptyFunctionIsInvalidArgumentAtTheCall) {
    coil::event_loop loop(options());
    EXPECT_THROW(loop.post(std::function<void()>{}), std::invalid_argument);
    EXPECT_THROW(loop.post(nullptr), std::invalid_argument);
}

// Each post comes from a new thread that exits after it.
TEST_P(CrossThreadWakeTest, PostsFromShortLivedThreadsEachWakeTheLoop) {
    coil::event_loop loop(options());
    constexpr int rounds = 200;
    coil::event arrived;
    auto body = [&]() -> task<int> {
        coil::event_loop::external_work pending(loop);
        int done = 0;
        for (; done < rounds; ++done) {
            arrived.reset();
            std::thread poster([&] { loop.post([&] { arrived.set(); }); });
            const bool woke = co_await wait_bounded(arrived);
            poster.join();
            if (!woke) break;
        }
        co_return done;
    };
    EXPECT_EQ(loop.run(body()), rounds);
}

// A post from a thread_local destructor, at the posting thread's exit (after its other
// thread_locals are gone), still wakes the loop and leaves no fd behind.
struct posts_at_thread_exit {
    coil::event_loop* loop = nullptr;
    coil::event* done = nullptr;
    ~posts_at_thread_exit() {
        if (loop != nullptr) loop->post([e = done] { e->set(); });
    }
};
thread_local posts_at_thread_exit exit_poster;

TEST_P(CrossThreadWakeTest, APostFromAThreadLocalDestructorAtThreadExitWakesTheLoop) {
    coil::event_loop loop(options());
    const int fds_before = open_fd_count();
    coil::event first;
    coil::event at_exit;
    auto body = [&]() -> task<bool> {
        coil::event_loop::external_work pending(loop);
        std::thread poster([&] {
            exit_poster.loop = &loop;
            exit_poster.done = &at_exit;
            loop.post([&] { first.set(); });
        });
        const bool woke_first = co_await wait_bounded(first);
        const bool woke_at_exit = co_await wait_bounded(at_exit);
        poster.join();
        co_return woke_first && woke_at_exit;
    };
    EXPECT_TRUE(loop.run(body()));
    EXPECT_EQ(open_fd_count(), fds_before);
}

// Runs a loop on a thread of its own and posts to it `rounds` times from the calling thread,
// waiting (bounded) for each post to run; returns how many ran.
[[maybe_unused]] int posts_that_reached_a_loop_on_another_thread(const coil::loop_options& options, int rounds) {
    std::atomic<coil::event_loop*> target{nullptr};
    std::atomic<int> ran{0};
    coil::event quit;
    std::thread loop_thread([&] {
        coil::event_loop loop(options);
        auto body = [&]() -> task<void> {
            coil::event_loop::external_work pending(loop);
            target.store(&loop);
            (void)co_await wait_bounded(quit);
        };
        loop.run(body());
    });
    coil::event_loop* loop = nullptr;
    while ((loop = target.load()) == nullptr) std::this_thread::yield();
    for (int i = 0; i < rounds; ++i) {
        loop->post([&] { ran.fetch_add(1); });
        const auto give_up = std::chrono::steady_clock::now() + bound;
        while (ran.load() == i && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
        if (ran.load() == i) break;
    }
    loop->post([&] { quit.set(); });
    loop_thread.join();
    return ran.load();
}

// A forked child's loops are woken by posts from the thread that forked (which had posted
// before the fork), and the parent's still are after the child is gone.
TEST_P(CrossThreadWakeTest, AForkedChildsLoopsAreWokenAndTheParentsStillAreAfter) {
#if defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "ThreadSanitizer does not follow a fork of a process that has run threads";
#else
    constexpr int rounds = 500;
    ASSERT_EQ(posts_that_reached_a_loop_on_another_thread(options(), 20), 20);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::alarm(60);  // a lost wake in the child ends it instead of leaving it behind
        ::_exit(posts_that_reached_a_loop_on_another_thread(options(), rounds) == rounds ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
    EXPECT_EQ(posts_that_reached_a_loop_on_another_thread(options(), rounds), rounds);
#endif
}

INSTANTIATE_TEST_SUITE_P(
    BackendsAndWakes, CrossThreadWakeTest,
    ::testing::Combine(::testing::ValuesIn(coil::all_backend_kinds()), ::testing::Bool()),
    [](const ::testing::TestParamInfo<std::tuple<coil::backend_kind, bool>>& param_info) {
        return std::string(coil::to_string(std::get<0>(param_info.param))) +
               (std::get<1>(param_info.param) ? "_msg_ring_allowed" : "_eventfd_only");
    });

}  // namespace
