// coil::shield: the shielded task keeps running after its caller is cancelled and its result is
// still delivered; its own token still reaches it; destroying the caller (the loop going away)
// destroys it and drains its I/O.
#include "coil/runtime/shield.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>

#include "coil/runtime.hpp"
#include "support/backend_test.hpp"
#include "support/sockets.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;

class ShieldTest : public coil::testing::BackendTest {};

// Sleeps 10ms; says whether the sleep was cancelled, and returns 42 either way.
task<int> ten_ms_reply(bool& sleep_cancelled) {
    auto slept = co_await coil::sleep_for(10ms);
    sleep_cancelled = !slept;
    co_return 42;
}

task<void> cancel_after(coil::cancel_source& source, std::chrono::milliseconds delay) {
    co_await coil::sleep_for(delay);
    source.request_cancel();
}

TEST_P(ShieldTest, KeepsRunningAfterTheCallerIsCancelledAndDeliversItsResult) {
    auto body = []() -> task<void> {
        const auto start = coil::now();
        coil::cancel_source caller_source;
        bool inner_cancelled = true;
        bool caller_next_sleep_cancelled = false;
        auto caller = [](bool& inner_flag, bool& next_cancelled) -> task<int> {
            const int value = co_await coil::shield(ten_ms_reply(inner_flag));
            auto after = co_await coil::sleep_for(1h);  // the caller itself is still cancelled
            next_cancelled = after.error() == std::errc::operation_canceled;
            co_return value;
        };
        auto t = caller(inner_cancelled, caller_next_sleep_cancelled);
        t.set_cancel_token(caller_source.token());
        auto [value, unused] = co_await coil::when_all(std::move(t), cancel_after(caller_source, 1ms));
        EXPECT_EQ(value, 42);
        EXPECT_FALSE(inner_cancelled);
        EXPECT_TRUE(caller_next_sleep_cancelled);
        EXPECT_EQ(coil::now() - start, 10ms);  // waited for the whole shielded sleep
    };
    run_paused(body());
}

// The control: the same task awaited without shield is cancelled with its caller.
TEST_P(ShieldTest, WithoutShieldTheSameTaskIsCancelled) {
    auto body = []() -> task<void> {
        const auto start = coil::now();
        coil::cancel_source caller_source;
        bool inner_cancelled = false;
        auto caller = [](bool& inner_flag) -> task<int> { co_return co_await ten_ms_reply(inner_flag); };
        auto t = caller(inner_cancelled);
        t.set_cancel_token(caller_source.token());
        auto [value, unused] = co_await coil::when_all(std::move(t), cancel_after(caller_source, 1ms));
        EXPECT_EQ(value, 42);
        EXPECT_TRUE(inner_cancelled);
        EXPECT_EQ(coil::now() - start, 1ms);
    };
    run_paused(body());
}

TEST_P(ShieldTest, WhenAnyLoserAndWithTimeoutDoNotReachAShieldedTask) {
    auto body = []() -> task<void> {
        bool loser_cancelled = true;
        auto first = co_await coil::when_any(coil::shield(ten_ms_reply(loser_cancelled)),
                                             []() -> task<int> { co_return 1; }());
        EXPECT_EQ(first.index, 1u);
        EXPECT_FALSE(loser_cancelled);  // when_any waited for the shielded loser to finish

        bool timed_cancelled = true;
        auto timed = co_await coil::with_timeout(coil::shield(ten_ms_reply(timed_cancelled)), 1ms);
        EXPECT_FALSE(timed_cancelled);
        EXPECT_FALSE(timed);  // the deadline passed first; the value came too late
        EXPECT_EQ(timed.error(), coil::errc::timed_out);
    };
    run_paused(body());
}

TEST_P(ShieldTest, AShieldedTaskStillFollowsItsOwnToken) {
    auto body = []() -> task<void> {
        const auto start = coil::now();
        coil::cancel_source own;
        bool inner_cancelled = false;
        auto inner = ten_ms_reply(inner_cancelled);
        inner.set_cancel_token(own.token());
        auto [value, unused] = co_await coil::when_all(coil::shield(std::move(inner)), cancel_after(own, 2ms));
        EXPECT_EQ(value, 42);
        EXPECT_TRUE(inner_cancelled);
        EXPECT_EQ(coil::now() - start, 2ms);
    };
    run_paused(body());
}

TEST_P(ShieldTest, ExceptionOfTheShieldedTaskReachesTheCaller) {
    auto body = []() -> task<void> {
        auto throws = []() -> task<void> {
            co_await coil::yield();
            throw std::runtime_error("shielded");
        };
        bool thrown = false;
        try {
            co_await coil::shield(throws());
        } catch (const std::runtime_error&) {
            thrown = true;
        }
        EXPECT_TRUE(thrown);
    };
    run(body());
}

struct set_on_destroy {
    bool& flag;
    ~set_on_destroy() { flag = true; }
};

// Shield is no shelter from destruction: the loop destroys its spawned caller, and with it the
// shielded task, whose pending recv is cancelled and drained (the fixture checks no fd leaks).
TEST_P(ShieldTest, LoopDestructionDestroysTheShieldedTaskAndDrainsItsIo) {
    auto pair = coil::testing::make_socket_pair();
    bool destroyed = false;
    bool recv_returned = false;
    std::optional<coil::io_handle> handle;  // outlives the loop (allowed, docs/lifetimes.md)
    {
        coil::event_loop loop(options());
        handle.emplace(std::move(pair.a));
        auto waiter = [](coil::io_handle& h, bool& destroyed_flag, bool& returned) -> task<void> {
            set_on_destroy on_exit{destroyed_flag};
            std::array<std::byte, 1> buf{};
            [[maybe_unused]] auto n = co_await h.track(coil::recv(h.fd(), buf));
            returned = true;
        };
        auto caller = [](task<void> shielded) -> task<void> { co_await coil::shield(std::move(shielded)); };
        loop.spawn(caller(waiter(*handle, destroyed, recv_returned)));
        loop.cancel_spawned();  // reaches the caller, not the shielded recv
        loop.run([]() -> task<void> {
            for (int i = 0; i < 4; ++i) co_await coil::yield();
        }());
        EXPECT_EQ(loop.spawned_count(), 1u);
        EXPECT_EQ(loop.io_in_flight(), 1u);
        EXPECT_FALSE(recv_returned);
        EXPECT_FALSE(destroyed);
    }
    EXPECT_TRUE(destroyed);
    EXPECT_FALSE(recv_returned);
}

}  // namespace

COIL_INSTANTIATE_BACKEND_TEST(ShieldTest);
