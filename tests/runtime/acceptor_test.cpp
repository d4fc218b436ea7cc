#include "coil/runtime/acceptor.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <chrono>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "coil/runtime/errc.hpp"
#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/sleep.hpp"
#include "coil/runtime/task_group.hpp"
#include "coil/runtime/when_all.hpp"
#include "coil/runtime/with_timeout.hpp"
#include "support/backend_test.hpp"
#include "support/sockets.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;

class AcceptorTest : public coil::testing::BackendTest {};

using coil::testing::accept_queue_length;

// Accepts `n` connections; returns how many were valid.
task<int> accept_n(coil::acceptor& a, int n) {
    int ok = 0;
    for (int i = 0; i < n; ++i) {
        auto c = co_await coil::with_timeout(a.accept(), 5s);
        if (c && c->valid()) ++ok;
    }
    co_return ok;
}

TEST_P(AcceptorTest, AcceptsEveryPendingConnection) {
    auto listener = coil::testing::listen_loopback();
    std::vector<coil::unique_fd> clients;
    for (int i = 0; i < 5; ++i) clients.push_back(coil::testing::connect_blocking(listener.address));
    auto body = [&]() -> task<int> {
        coil::acceptor a(listener.fd.get());
        co_return co_await accept_n(a, 5);
    };
    EXPECT_EQ(run(body()), 5);
}

TEST_P(AcceptorTest, ConnectionsArrivingWhileNobodyWaitsAreKeptForLaterAccepts) {
    auto listener = coil::testing::listen_loopback();
    std::vector<coil::unique_fd> clients;
    auto body = [&]() -> task<int> {
        coil::acceptor a(listener.fd.get());
        clients.push_back(coil::testing::connect_blocking(listener.address));
        int ok = co_await accept_n(a, 1);  // on io_uring this arms the multishot
        for (int i = 0; i < 3; ++i) clients.push_back(coil::testing::connect_blocking(listener.address));
        co_await coil::sleep_for(5ms);  // they are accepted (or wait in the backlog) meanwhile
        // io_uring's multishot accept has already taken them from the kernel's queue; a plain
        // accept (epoll) leaves them there until asked.
        const bool multishot = coil::event_loop::current()->supports_multishot_accept();
        EXPECT_EQ(accept_queue_length(listener.fd.get()), multishot ? 0u : 3u);
        ok += co_await accept_n(a, 3);
        co_return ok;
    };
    EXPECT_EQ(run(body()), 4);
    if (backend() == coil::backend_kind::io_uring) {
        coil::event_loop loop(options());
        EXPECT_TRUE(loop.supports_multishot_accept()) << "this kernel should support it (5.19+)";
    }
}

TEST_P(AcceptorTest, MoreConnectionsThanTheQueueCapAreAllAcceptedEventually) {
    constexpr int count = static_cast<int>(coil::acceptor::max_queued) * 3;
    auto listener = coil::testing::listen_loopback();
    std::vector<coil::unique_fd> clients;
    auto body = [&]() -> task<int> {
        coil::acceptor a(listener.fd.get());
        clients.push_back(coil::testing::connect_blocking(listener.address));
        int ok = co_await accept_n(a, 1);
        for (int i = 1; i < count; ++i) clients.push_back(coil::testing::connect_blocking(listener.address));
        co_await coil::sleep_for(5ms);  // past the cap nobody takes them: the multishot pauses
        ok += co_await accept_n(a, count - 1);
        // Regression: after a pause the acceptor must arm again for new connections (it used to
        // stay paused for good, and this accept waited forever).
        clients.push_back(coil::testing::connect_blocking(listener.address));
        ok += co_await accept_n(a, 1);
        co_return ok;
    };
    EXPECT_EQ(run(body()), count + 1);
}

TEST_P(AcceptorTest, ACancelledAcceptLeavesTheOthersWaiting) {
    auto listener = coil::testing::listen_loopback();
    std::optional<coil::unique_fd> client;
    auto body = [&]() -> task<void> {
        coil::acceptor a(listener.fd.get());
        auto gives_up = [](coil::acceptor& acc) -> task<std::error_code> {
            auto r = co_await coil::with_timeout(acc.accept(), 2ms);
            co_return r.error();
        };
        auto waits = [](coil::acceptor& acc) -> task<bool> {
            auto r = co_await coil::with_timeout(acc.accept(), 5s);
            co_return r && r->valid();
        };
        auto connects_late = [&]() -> task<void> {
            co_await coil::sleep_for(10ms);
            client.emplace(coil::testing::connect_blocking(listener.address));
        };
        auto [first, second, ignored] = co_await coil::when_all(gives_up(a), waits(a), connects_late());
        EXPECT_EQ(first, coil::errc::timed_out);
        EXPECT_TRUE(second);
    };
    run(body());
}

// The three later connections are queued in the acceptor (io_uring's multishot took them from the
// kernel) or still in the listener's backlog (plain accepts): the first must be closed with the
// acceptor, the second left alone. Either way the fixture sees no fd leaked in this process.
TEST_P(AcceptorTest, DestroyingTheAcceptorClosesTheConnectionsItQueuedAndLeavesTheBacklog) {
    auto listener = coil::testing::listen_loopback();
    std::vector<coil::unique_fd> clients;
    bool multishot = false;
    auto body = [&]() -> task<void> {
        coil::acceptor a(listener.fd.get());
        multishot = coil::event_loop::current()->supports_multishot_accept();
        clients.push_back(coil::testing::connect_blocking(listener.address));
        auto awaited1 = co_await accept_n(a, 1);
        EXPECT_EQ(awaited1, 1);
        for (int i = 0; i < 3; ++i) clients.push_back(coil::testing::connect_blocking(listener.address));
        co_await coil::sleep_for(5ms);
    };
    run(body());
    if (!multishot) {
        EXPECT_EQ(accept_queue_length(listener.fd.get()), 3u) << "plain accepts took nothing more";
        return;
    }
    EXPECT_EQ(accept_queue_length(listener.fd.get()), 0u) << "the multishot had queued them";
    for (std::size_t i = 1; i < clients.size(); ++i) {
        char c;
        timeval tv{2, 0};
        ::setsockopt(clients[i].get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        EXPECT_EQ(::recv(clients[i].get(), &c, 1, 0), 0) << "queued connection " << i << " left open";
    }
}

// Regression: a waiting accept() destroyed before any connection came closed fd 0 (its result
// field started at 0 and was taken for a connection nobody had collected).
TEST_P(AcceptorTest, AWaitingAcceptDestroyedBeforeAnyConnectionClosesNothing) {
    coil::testing::occupy_fd_zero();
    auto listener = coil::testing::listen_loopback();
    auto body = [&]() -> task<void> {
        coil::acceptor a(listener.fd.get());
        {
            coil::task_group group;
            group.spawn([](coil::acceptor& acc) -> task<void> { (void)co_await acc.accept(); }(a));
            co_await coil::sleep_for(2ms);
        }  // destroys the waiting accept()
    };
    run(body());
    EXPECT_TRUE(coil::testing::fd_is_open(0));
}

// Regression: destroying the acceptor (closing the listener) while another task waited in
// accept() hit an assertion (and left the waiter pointing at freed state); and on epoll (plain
// accepts) the wait went on until its timeout. It now ends every waiting accept with
// operation_canceled, on both backends.
TEST_P(AcceptorTest, DestroyingTheAcceptorEndsAcceptsStillWaitingWithOperationCanceled) {
    auto listener = coil::testing::listen_loopback();
    auto body = [&]() -> task<std::error_code> {
        std::optional<coil::acceptor> a(std::in_place, listener.fd.get());
        auto waiter = [](coil::acceptor& acc) -> task<std::error_code> {
            auto r = co_await coil::with_timeout(acc.accept(), 5s);
            co_return r.error();
        };
        auto closer = [](std::optional<coil::acceptor>& acc) -> task<std::error_code> {
            co_await coil::sleep_for(5ms);
            acc.reset();
            co_return std::error_code{};
        };
        auto [first, second, ignored] = co_await coil::when_all(waiter(*a), waiter(*a), closer(a));
        EXPECT_EQ(second, std::errc::operation_canceled) << second.message();
        co_return first;
    };
    const auto error = run(body());
    EXPECT_EQ(error, std::errc::operation_canceled) << error.message();
    // The listening socket is the caller's: still open, and still listening.
    EXPECT_TRUE(coil::testing::fd_is_open(listener.fd.get()));
}

// Regression: a multishot that ended with an error (EMFILE) gave it to the oldest waiter and left
// the others waiting on a dead op. Each waiter here retries after an error (backing off 1 ms, as a
// server would) until it gets a connection: both must get one once fds are free again, and
// EMFILE must really have happened first (the test checks its own premise).
TEST_P(AcceptorTest, AfterAnAcceptErrorTheOtherWaitersStillGetConnections) {
    auto listener = coil::testing::listen_loopback();
    coil::unique_fd c1(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    coil::unique_fd c2(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
    struct restore_limit {
        rlimit limit;
        ~restore_limit() { ::setrlimit(RLIMIT_NOFILE, &limit); }
    } restore{old};
    int emfile = 0;
    std::vector<std::string> outcomes;
    auto waiter = [&](coil::acceptor& a) -> task<void> {
        for (int attempt = 0; attempt < 2000; ++attempt) {
            auto r = co_await coil::with_timeout(a.accept(), 2s);
            if (!r && r.error() == std::errc::too_many_files_open) {
                ++emfile;
                co_await coil::sleep_for(1ms);
                continue;
            }
            outcomes.push_back(r ? "connection" : r.error().message());
            co_return;
        }
        outcomes.push_back("gave up");
    };
    auto driver = [&]() -> task<void> {
        co_await coil::sleep_for(5ms);
        EXPECT_EQ(::connect(c1.get(), reinterpret_cast<const sockaddr*>(&listener.address), sizeof listener.address), 0);
        for (int i = 0; i < 2000 && emfile < 2; ++i) co_await coil::sleep_for(1ms);  // no fd left
        ::setrlimit(RLIMIT_NOFILE, &old);
        EXPECT_EQ(::connect(c2.get(), reinterpret_cast<const sockaddr*>(&listener.address), sizeof listener.address), 0);
    };
    auto body = [&]() -> task<void> {
        coil::acceptor a(listener.fd.get());
        rlimit low = old;
        low.rlim_cur = static_cast<rlim_t>(c2.get()) + 1;  // every fd number is taken
        ::setrlimit(RLIMIT_NOFILE, &low);
        co_await coil::when_all(waiter(a), waiter(a), driver());
    };
    run(body());
    EXPECT_GE(emfile, 2) << "accept never failed with EMFILE: the test did not test the error";
    EXPECT_EQ(outcomes, (std::vector<std::string>{"connection", "connection"}));
}

// Regression: one listener's multishot ending with EINVAL (it was shut down) switched multishot
// off for the whole loop, stranding the connections another acceptor had already queued.
TEST_P(AcceptorTest, OneListenersEinvalLeavesTheOthersQueuedConnectionsReachable) {
    auto a_listener = coil::testing::listen_loopback();
    auto b_listener = coil::testing::listen_loopback();
    std::vector<coil::unique_fd> clients;
    auto body = [&]() -> task<bool> {
        coil::acceptor a(a_listener.fd.get());
        coil::acceptor b(b_listener.fd.get());
        clients.push_back(coil::testing::connect_blocking(a_listener.address));
        auto awaited2 = co_await accept_n(a, 1);
        EXPECT_EQ(awaited2, 1);  // arms A's multishot
        clients.push_back(coil::testing::connect_blocking(a_listener.address));
        co_await coil::sleep_for(20ms);  // queued by A's multishot, nobody asked yet
        // The premise: io_uring's multishot took it from the kernel; plain accepts (epoll) leave
        // it in the backlog, and then this checks that it is still reachable there.
        const bool multishot = coil::event_loop::current()->supports_multishot_accept();
        EXPECT_EQ(accept_queue_length(a_listener.fd.get()), multishot ? 0u : 1u);
        ::shutdown(b_listener.fd.get(), SHUT_RD);
        auto from_b = co_await coil::with_timeout(b.accept(), 1s);
        EXPECT_FALSE(from_b);
        auto from_a = co_await coil::with_timeout(a.accept(), 2s);
        co_return from_a && from_a->valid();
    };
    EXPECT_TRUE(run(body()));
}

COIL_INSTANTIATE_BACKEND_TEST(AcceptorTest);

}  // namespace
