// What the kernel may touch stays alive until its completion (docs/lifetimes.md), whatever
// happens to the task that started the operation.
#include "coil/runtime/io.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "coil/runtime/errc.hpp"
#include "coil/runtime/sleep.hpp"
#include "coil/runtime/task_group.hpp"
#include "coil/runtime/with_timeout.hpp"
#include "support/backend_test.hpp"
#include "support/sockets.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;

class LifetimeTest : public coil::testing::BackendTest {};

// The buffer is a local of the coroutine frame: if the recv were left in the kernel when the
// frame is freed, the kernel would later write the peer's bytes into freed memory.
task<void> recv_into_frame_buffer(int fd, bool& resumed) {
    std::array<std::byte, 4096> buffer{};
    (void)co_await coil::recv(fd, buffer);
    resumed = true;
}

TEST_P(LifetimeTest, DestroyingTaskWithPendingRecvCancelsItBeforeTheFrameIsFreed) {
    auto pair = coil::testing::make_socket_pair();
    bool resumed = false;
    auto body = [&]() -> task<void> {
        std::optional<coil::task_group> group(std::in_place);
        group->spawn(recv_into_frame_buffer(pair.a.get(), resumed));
        co_await coil::sleep_for(2ms);  // the recv is now waiting in the kernel / the wait list
        EXPECT_EQ(coil::event_loop::current()->io_in_flight(), 1u);
        group.reset();                  // destroys the child frame and its buffer
        EXPECT_EQ(coil::event_loop::current()->io_in_flight(), 0u);
        // Bytes sent now must stay in the socket: no zombie recv may take them.
        EXPECT_EQ(::send(pair.b.get(), "after", 5, 0), 5);
        co_await coil::sleep_for(2ms);
    };
    run_paused(body());
    EXPECT_FALSE(resumed);
    char buf[8] = {};
    EXPECT_EQ(::recv(pair.a.get(), buf, sizeof buf, MSG_DONTWAIT), 5);
}

TEST_P(LifetimeTest, DestroyingManyTasksWithPendingRecvsLeavesNothingInFlight) {
    std::vector<coil::testing::socket_pair> pairs(64);
    for (auto& p : pairs) p = coil::testing::make_socket_pair();
    bool resumed = false;
    auto body = [&]() -> task<void> {
        {
            coil::task_group group;
            for (auto& p : pairs) group.spawn(recv_into_frame_buffer(p.a.get(), resumed));
            co_await coil::sleep_for(2ms);
            EXPECT_EQ(coil::event_loop::current()->io_in_flight(), pairs.size());
        }
        EXPECT_EQ(coil::event_loop::current()->io_in_flight(), 0u);  // what the name promises
        for (auto& p : pairs) EXPECT_EQ(::send(p.b.get(), "x", 1, 0), 1);
        co_await coil::sleep_for(2ms);
    };
    run_paused(body());
    EXPECT_FALSE(resumed);
    for (auto& p : pairs) {
        char c = 0;
        EXPECT_EQ(::recv(p.a.get(), &c, 1, MSG_DONTWAIT), 1);
    }
}

// Regression-style: an accept that the kernel completed for a task that is then destroyed must
// not leak the accepted fd. The yields place the destruction at each point of the op's life:
// queued but not submitted, submitted and completed but not reaped, completed and queued to run.
class CancelledAcceptTest : public coil::testing::BackendTest {};

task<void> accept_and_hold(int listen_fd) {
    auto conn = co_await coil::accept(listen_fd);
    co_await coil::sleep_for(1h);  // holds the connection (if it got one) until destroyed
}

TEST_P(CancelledAcceptTest, AcceptCompletedForADestroyedTaskDoesNotLeakTheFd) {
    // Regression: the awaiter of an abandoned accept closed op.res, which epoll never set (fd 0
    // was closed) and io_uring had already closed (a double close). fd 0 must survive.
    coil::testing::occupy_fd_zero();
    for (int yields = 0; yields < 4; ++yields) {
        SCOPED_TRACE(yields);
        auto listener = coil::testing::listen_loopback();
        auto client = coil::testing::connect_blocking(listener.address);  // waits in the backlog
        auto body = [&]() -> task<void> {
            {
                coil::task_group group;
                group.spawn(accept_and_hold(listener.fd.get()));
                for (int i = 0; i < yields; ++i) co_await coil::yield();
            }  // destroyed here, wherever the accept had got to
        };
        run(body());
        EXPECT_TRUE(coil::testing::fd_is_open(0)) << "an abandoned accept closed fd 0";
        // With no yield the task never started: the connection still waits in the backlog, and
        // nothing was accepted that could leak. Otherwise the kernel handed it out, to the task
        // or to the abandoned op, and either way the server side must be closed by now: the
        // client sees EOF (or a reset), never a live connection. (The fixture also checks that
        // this process holds no extra fd.)
        if (coil::testing::accept_queue_length(listener.fd.get()) != 0) {
            EXPECT_EQ(yields, 0) << "the accept never happened";
            continue;
        }
        char c;
        timeval tv{2, 0};
        ::setsockopt(client.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        const auto n = ::recv(client.get(), &c, 1, 0);
        if (n < 0) {
            EXPECT_NE(errno, EAGAIN) << "the accepted connection is still open (leaked)";
        } else {
            EXPECT_EQ(n, 0);
        }
    }
}

// Regression: an accept destroyed while still waiting (no connection yet) had its awaiter
// close op.res, which epoll never set: fd 0 was closed.
TEST_P(CancelledAcceptTest, AnAcceptDestroyedWhileWaitingClosesNothing) {
    coil::testing::occupy_fd_zero();
    auto listener = coil::testing::listen_loopback();
    auto body = [&]() -> task<void> {
        coil::task_group group;
        group.spawn([](int fd) -> task<void> { (void)co_await coil::accept(fd); }(listener.fd.get()));
        co_await coil::sleep_for(2ms);
        EXPECT_EQ(coil::event_loop::current()->io_in_flight(), 1u);
    };  // the group destroys the waiting accept
    run_paused(body());
    EXPECT_TRUE(coil::testing::fd_is_open(0));
}

TEST_P(CancelledAcceptTest, CancelledAcceptThatWonTheRaceReturnsTheConnection) {
    auto listener = coil::testing::listen_loopback();
    auto client = coil::testing::connect_blocking(listener.address);
    auto body = [&]() -> task<void> {
        // A zero timeout cancels at the first opportunity; the connection is already waiting,
        // so the accept may complete anyway: then its fd must be handed to us, not dropped.
        auto r = co_await coil::with_timeout(coil::accept(listener.fd.get()), 0ms);
        if (r) {
            EXPECT_TRUE(r->valid());
        } else {
            EXPECT_EQ(r.error(), coil::errc::timed_out);
            auto again = co_await coil::accept(listener.fd.get());  // still in the backlog
            EXPECT_TRUE(again);
        }
    };
    run(body());
}

TEST_P(LifetimeTest, TimeoutRacingCompletionLosesNoBytes) {
    // Many rounds of a recv whose deadline is about when the data arrives. Whichever wins, every
    // byte sent must be received exactly once.
    auto pair = coil::testing::make_socket_pair();
    constexpr int rounds = 200;
    auto body = [&]() -> task<std::size_t> {
        std::size_t received = 0;
        std::array<std::byte, 64> buf{};
        for (int i = 0; i < rounds; ++i) {
            auto sender = [](int fd, int delay_us) -> task<void> {
                co_await coil::sleep_for(std::chrono::microseconds(delay_us));
                EXPECT_EQ(::send(fd, "0123456789", 10, 0), 10);
            };
            coil::task_group group;
            group.spawn(sender(pair.b.get(), (i * 37) % 300));
            auto r = co_await coil::with_timeout(coil::recv(pair.a.get(), buf), std::chrono::microseconds((i * 53) % 300));
            if (r) {
                received += *r;
            } else {
                EXPECT_EQ(r.error(), coil::errc::timed_out);
            }
            co_await group.join();
        }
        // Whatever the timed-out recvs did not take is still in the socket.
        for (;;) {
            const auto n = ::recv(pair.a.get(), buf.data(), buf.size(), MSG_DONTWAIT);
            if (n <= 0) break;
            received += static_cast<std::size_t>(n);
        }
        co_return received;
    };
    EXPECT_EQ(run(body()), rounds * 10u);
}

COIL_INSTANTIATE_BACKEND_TEST(LifetimeTest);
COIL_INSTANTIATE_BACKEND_TEST(CancelledAcceptTest);

}  // namespace
