// What the kernel may touch stays alive until its completion (docs/lifetimes.md), whatever
// happens to the task that started the operation.
#include "coil/runtime/io.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstring>
#include <string>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "coil/net/tcp_connect.hpp"
#include "coil/net/tcp_listener.hpp"
#include "coil/runtime/acceptor.hpp"
#include "coil/runtime/io_handle.hpp"
#include "coil/runtime/errc.hpp"
#include "coil/runtime/signal_set.hpp"
#include "coil/runtime/sleep.hpp"
#include "coil/runtime/when_all.hpp"
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

// Whichever way a cancel and a completion race, the connection is neither lost nor duplicated:
// it comes back from the cancelled accept (the completion won) or stays in the backlog for the
// next accept (the cancel won). Which branch runs is up to the backend and timing; the two tests
// after this one force each branch.
TEST_P(CancelledAcceptTest, ACancelledAcceptNeverLosesTheConnection) {
    auto listener = coil::testing::listen_loopback();
    auto client = coil::testing::connect_blocking(listener.address);
    auto body = [&]() -> task<int> {
        int connections = 0;
        auto r = co_await coil::with_timeout(coil::accept(listener.fd.get()), 0ms);
        if (r) {
            connections += r->valid();
        } else {
            EXPECT_EQ(r.error(), coil::errc::timed_out);
        }
        // Exactly one connection was made: a second accept finds it only if the first did not.
        auto again = co_await coil::with_timeout(coil::accept(listener.fd.get()), 50ms);
        if (again) connections += again->valid();
        co_return connections;
    };
    EXPECT_EQ(run(body()), 1);
}

// The cancel wins: the accept is cancelled while no connection exists; one made afterwards must
// still be in the backlog (no zombie accept took it).
TEST_P(CancelledAcceptTest, AnAcceptCancelledBeforeAnyConnectionLeavesTheNextInTheBacklog) {
    auto listener = coil::testing::listen_loopback();
    auto body = [&]() -> task<void> {
        auto r = co_await coil::with_timeout(coil::accept(listener.fd.get()), 2ms);
        EXPECT_EQ(r.error(), coil::errc::timed_out);
        auto client = coil::testing::connect_blocking(listener.address);
        EXPECT_EQ(coil::testing::accept_queue_length(listener.fd.get()), 1u);
        auto again = co_await coil::with_timeout(coil::accept(listener.fd.get()), 2s);
        EXPECT_TRUE(again && again->valid());
    };
    run(body());
}

// The completion wins: the cancel is requested after the kernel accepted but before the task
// resumed (the canceller runs first in the turn that delivers the completion: it was queued
// first). The accepted connection must be handed over, not dropped or closed.
TEST_P(CancelledAcceptTest, AnAcceptCancelledAfterItCompletedReturnsTheConnection) {
    auto listener = coil::testing::listen_loopback();
    std::optional<coil::unique_fd> client;
    auto body = [&]() -> task<bool> {
        bool accepted = false;
        bool cancelled_after_completion = false;
        coil::task_group group;
        group.spawn([](int fd, bool& ok) -> task<void> {
            auto r = co_await coil::accept(fd);
            ok = r && r->valid();
        }(listener.fd.get(), accepted));
        co_await coil::sleep_for(2ms);  // the accept waits by now
        client.emplace(coil::testing::connect_blocking(listener.address));
        // Yield until the kernel has accepted (the completion is then queued behind us), then
        // cancel before the accepting task runs.
        for (int i = 0; i < 1000 && coil::testing::accept_queue_length(listener.fd.get()) != 0; ++i) {
            co_await coil::yield();
        }
        cancelled_after_completion = !accepted;
        group.cancel();
        co_await group.join();
        EXPECT_TRUE(cancelled_after_completion) << "the cancel came too late to race";
        co_return accepted;
    };
    EXPECT_TRUE(run(body()));
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

// I/O objects that outlive their loop (declared outside coil::run, used inside it, destroyed
// after it returned) are safe to destroy, and usable on a later loop of the same thread.
// Regression: a tcp_listener whose accept had timed out (io_uring kept its multishot accept
// armed) was destroyed after run() returned: the acceptor drained the multishot through the
// dead loop (ASan: stack-buffer-overflow in the acceptor's destructor).
TEST_P(LifetimeTest, AListenerThatOutlivesItsLoopIsSafeToDestroy) {
    std::optional<coil::unique_fd> client;
    {
        coil::tcp_listener listener;
        run([&]() -> task<void> {
            listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0)).value();
            auto r = co_await coil::with_timeout(listener.accept(), 10ms);
            EXPECT_EQ(r.error(), coil::errc::timed_out);
            // A connection the multishot (io_uring) takes while nobody waits: queued in the
            // acceptor when the loop goes.
            sockaddr_in address{};
            auto endpoint = listener.local_endpoint();
            std::memcpy(&address, endpoint.data(), sizeof address);
            client.emplace(coil::testing::connect_blocking(address));
            co_await coil::sleep_for(5ms);
        }());
    }  // destroyed here, without a loop; the fixture checks that no fd leaked
    char c;
    timeval tv{2, 0};
    ::setsockopt(client->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    // Queued in the acceptor (io_uring): closed, EOF. Still in the backlog (epoll): reset with
    // the listener. Never still open (EAGAIN after the timeout).
    const auto n = ::recv(client->get(), &c, 1, 0);
    if (n < 0) {
        EXPECT_EQ(errno, ECONNRESET) << "the listener's queued connection leaked";
    } else {
        EXPECT_EQ(n, 0);
    }
}

TEST_P(LifetimeTest, AListenerThatOutlivesItsLoopAcceptsOnTheNextLoop) {
    coil::tcp_listener listener;
    run([&]() -> task<void> {
        listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0)).value();
        auto r = co_await coil::with_timeout(listener.accept(), 10ms);  // arms the multishot
        EXPECT_EQ(r.error(), coil::errc::timed_out);
    }());
    const bool accepted = run([&]() -> task<bool> {
        auto [client, conn] = co_await coil::when_all(
            coil::tcp_connect(listener.local_endpoint(), 2s), coil::with_timeout(listener.accept(), 2s));
        EXPECT_TRUE(client) << client.error().message();
        co_return conn && conn->is_open();
    }());
    EXPECT_TRUE(accepted);
}

TEST_P(LifetimeTest, AStreamThatOutlivesItsLoopIsSafeToDestroyAndUseLater) {
    std::optional<coil::tcp_stream> client, server;
    auto connect = [&]() -> task<void> {
        auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0)).value();
        auto [c, s] = co_await coil::when_all(coil::tcp_connect(listener.local_endpoint(), 2s),
                                              listener.accept());
        client.emplace(std::move(c).value());
        server.emplace(std::move(s).value());
        std::array<std::byte, 8> buf{};
        auto r = co_await coil::with_timeout(server->recv(buf), 5ms);  // registers, waits
        EXPECT_EQ(r.error(), coil::errc::timed_out);
    };
    run(connect());
    // On a second loop: the old loop's registrations are gone with it; the fds still work.
    const std::string text = run([&]() -> task<std::string> {
        auto awaited1 = co_await client->send_all(std::as_bytes(std::span("hi", 2)));
        EXPECT_TRUE(awaited1);
        std::array<std::byte, 8> buf{};
        auto got = co_await coil::with_timeout(server->recv(buf), 2s);
        co_return got ? std::string(reinterpret_cast<const char*>(buf.data()), *got) : got.error().message();
    }());
    EXPECT_EQ(text, "hi");
    client.reset();  // destroyed without a loop
    server.reset();
}

TEST_P(LifetimeTest, AnAcceptorAndAnIoHandleThatOutliveTheirLoopAreSafeToDestroy) {
    auto listener = coil::testing::listen_loopback();
    auto pair = coil::testing::make_socket_pair();
    std::optional<coil::acceptor> acceptor;
    std::optional<coil::io_handle> handle;
    run([&]() -> task<void> {
        acceptor.emplace(listener.fd.get());
        handle.emplace(std::move(pair.a));
        auto r = co_await coil::with_timeout(acceptor->accept(), 5ms);
        EXPECT_EQ(r.error(), coil::errc::timed_out);
        std::array<std::byte, 8> buf{};
        auto got = co_await coil::with_timeout(handle->track(coil::recv(handle->fd(), buf)), 5ms);
        EXPECT_EQ(got.error(), std::errc::timed_out);
    }());
    acceptor.reset();
    handle.reset();
    char c;
    timeval tv{2, 0};
    ::setsockopt(pair.b.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    EXPECT_EQ(::recv(pair.b.get(), &c, 1, 0), 0) << "the handle did not close its fd";
}

TEST_P(LifetimeTest, ASignalSetThatOutlivesItsLoopIsSafeToDestroy) {
    std::optional<coil::signal_set> signals;
    run([&]() -> task<void> {
        signals.emplace(std::initializer_list<int>{SIGUSR2});
        auto r = co_await coil::with_timeout(signals->wait(), 5ms);
        EXPECT_EQ(r.error(), coil::errc::timed_out);
    }());
    signals.reset();
    sigset_t mask;
    ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, nullptr, &mask), 0);
    EXPECT_FALSE(sigismember(&mask, SIGUSR2)) << "the set's destructor unblocked its signal";
}

COIL_INSTANTIATE_BACKEND_TEST(LifetimeTest);
COIL_INSTANTIATE_BACKEND_TEST(CancelledAcceptTest);

}  // namespace
