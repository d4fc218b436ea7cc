// send_all as its own awaitable (net/send_all_awaitable.hpp): the first send done in the
// caller's frame, the rest of a partial message in a task; on both backends. What each path
// must keep: the whole message, the count on cancellation, the FIFO order in which the
// awaitables start, laziness, one await, and use inside when_all, when_any, with_timeout, shield.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "coil/net/tcp_connect.hpp"
#include "coil/net/tcp_listener.hpp"
#include "coil/net/tcp_stream.hpp"
#include "coil/runtime.hpp"
#include "support/backend_test.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;
using coil::tcp_stream;
using coil::transfer_result;

class SendAllTest : public coil::testing::BackendTest {};

constexpr std::size_t big = 256 * 1024;  // 32 times the 8 KiB socket buffers below

task<std::pair<tcp_stream, tcp_stream>> connected_pair(bool small_buffers) {
    auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0)).value();
    auto [client, server] = co_await coil::when_all(coil::tcp_connect(listener.local_endpoint(), 5s),
                                                    listener.accept());
    tcp_stream out = std::move(client).value();
    tcp_stream in = std::move(server).value();
    if (small_buffers) {
        const int size = 8 * 1024;
        EXPECT_EQ(::setsockopt(out.native_handle(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size), 0);
        EXPECT_EQ(::setsockopt(in.native_handle(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size), 0);
    }
    co_return std::pair{std::move(out), std::move(in)};
}

std::vector<std::byte> pattern(std::size_t size, unsigned seed = 0) {
    std::vector<std::byte> v(size);
    for (std::size_t i = 0; i < size; ++i) v[i] = std::byte((i + seed) % 251);
    return v;
}

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s)); }

// Reads until end of stream (bounded by `limit` bytes) and returns what came.
task<std::vector<std::byte>> read_to_end(const tcp_stream& in, std::size_t limit) {
    std::vector<std::byte> all;
    std::vector<std::byte> buf(64 * 1024);
    while (all.size() <= limit) {
        auto got = co_await in.recv(buf);
        if (!got) {
            EXPECT_EQ(got.error(), coil::errc::eof) << got.error().message();
            break;
        }
        all.insert(all.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*got));
    }
    co_return all;
}

// Helpers are functions, not capturing lambdas: GCC 12 may keep a lambda that is not used after
// a suspension point on the stack, and a coroutine made from it then reads a dead closure.
task<transfer_result> send_whole(const tcp_stream& out, std::span<const std::byte> msg) {
    co_return co_await out.send_all(msg);
}

task<transfer_result> send_shielded(const tcp_stream& out, std::span<const std::byte> msg) {
    co_return co_await coil::shield(out.send_all(msg));
}

// send_all, then shut down writing (the peer then sees end of stream).
task<transfer_result> send_then_shut(const tcp_stream& out, std::span<const std::byte> msg) {
    const transfer_result sent = co_await out.send_all(msg);
    EXPECT_TRUE(out.shutdown());
    co_return sent;
}

task<void> cancel_after(coil::cancel_source& source, std::chrono::milliseconds delay) {
    co_await coil::sleep_for(delay);
    source.request_cancel();
}

// Waits `delay`, then receives exactly `size` bytes.
task<std::vector<std::byte>> receive_after(const tcp_stream& in, std::size_t size, std::chrono::milliseconds delay) {
    co_await coil::sleep_for(delay);
    std::vector<std::byte> all(size);
    auto r = co_await in.recv_exact(all);
    EXPECT_TRUE(r) << r.error().message();
    co_return all;
}

TEST_P(SendAllTest, APartialFirstSendContinuesUntilTheWholeMessageIsSent) {
    auto body = []() -> task<void> {
        auto [out, in] = co_await connected_pair(true);
        const std::vector<std::byte> msg = pattern(big);
        std::vector<std::byte> got(big);
        // Awaitables straight into when_all: the send_all and the task of recv_exact.
        auto [sent, received] = co_await coil::when_all(out.send_all(msg), in.recv_exact(got));
        EXPECT_TRUE(sent) << sent.error().message();
        EXPECT_EQ(sent.transferred(), big);
        EXPECT_TRUE(received);
        EXPECT_EQ(got, msg);
    };
    run(body());
}

// The first send finds the socket buffer full, so it waits (epoll: for writability; io_uring: in
// the kernel), then sends only part: the rest goes on from the completion, in a task made then.
TEST_P(SendAllTest, AFirstSendThatWaitsAndThenSendsPartContinuesFromItsCompletion) {
    auto body = []() -> task<void> {
        auto [out, in] = co_await connected_pair(true);
        // Fill the socket with plain sends (no turn) until one would block.
        const std::vector<std::byte> filler = pattern(4096, 7);
        std::size_t filled = 0;
        for (int i = 0; i < 10000; ++i) {
            const ssize_t n = ::send(out.native_handle(), filler.data(), filler.size(), MSG_DONTWAIT);
            if (n < 0) break;
            filled += static_cast<std::size_t>(n);
        }
        EXPECT_GT(filled, 0u);
        const std::vector<std::byte> msg = pattern(big, 3);
        // The send_all is waiting by the time the receiver starts.
        auto [sent, all] = co_await coil::when_all(out.send_all(msg), receive_after(in, filled + big, 20ms));
        EXPECT_TRUE(sent) << sent.error().message();
        EXPECT_EQ(sent.transferred(), big);
        EXPECT_TRUE(std::equal(msg.begin(), msg.end(), all.begin() + static_cast<std::ptrdiff_t>(filled)));
    };
    run(body());
}

// Cancelled while the rest of a partial message is being sent: operation_canceled, and
// transferred() is exactly what the peer receives.
TEST_P(SendAllTest, CancelledInTheSlowPathSaysExactlyHowMuchWentOut) {
    auto body = []() -> task<void> {
        auto [out, in] = co_await connected_pair(true);
        const std::vector<std::byte> msg = pattern(big);
        coil::cancel_source source;
        auto sending = send_whole(out, msg);
        sending.set_cancel_token(source.token());
        // No reader: the send_all is stuck past its first send when the cancel comes.
        auto [sent, unused] = co_await coil::when_all(std::move(sending), cancel_after(source, 20ms));
        EXPECT_EQ(sent.error(), std::errc::operation_canceled);
        EXPECT_GT(sent.transferred(), 0u);
        EXPECT_LT(sent.transferred(), big);
        EXPECT_TRUE(out.shutdown());
        const std::vector<std::byte> got = co_await read_to_end(in, big);
        EXPECT_EQ(got.size(), sent.transferred());
        EXPECT_TRUE(std::equal(got.begin(), got.end(), msg.begin()));
    };
    run(body());
}

TEST_P(SendAllTest, WithTimeoutAroundAStuckSendAllEndsTimedOutWithItsCount) {
    auto body = []() -> task<void> {
        auto [out, in] = co_await connected_pair(true);
        const std::vector<std::byte> msg = pattern(big);
        const transfer_result sent = co_await coil::with_timeout(out.send_all(msg), 20ms);
        EXPECT_EQ(sent.error(), coil::errc::timed_out);
        EXPECT_GT(sent.transferred(), 0u);
        EXPECT_LT(sent.transferred(), big);
        EXPECT_TRUE(out.shutdown());
        const std::vector<std::byte> got = co_await read_to_end(in, big);
        EXPECT_EQ(got.size(), sent.transferred());
    };
    run(body());
}

TEST_P(SendAllTest, WithTimeoutAroundAQuickSendAllIsASuccess) {
    auto body = []() -> task<void> {
        auto [out, in] = co_await connected_pair(false);
        const transfer_result sent = co_await coil::with_timeout(out.send_all(bytes_of("hello")), 2s);
        EXPECT_TRUE(sent) << sent.error().message();
        EXPECT_EQ(sent.transferred(), 5u);
        std::vector<std::byte> got(5);
        auto r = co_await in.recv_exact(got);
        EXPECT_TRUE(r);
    };
    run(body());
}

// Two send_alls awaited directly by when_all: the first fills the socket (partial, slow path,
// holding the turn), the second waits for its turn; the peer gets them whole, in start order.
TEST_P(SendAllTest, TwoConcurrentSendAllsAwaitedDirectlyArriveWholeInStartOrder) {
    auto body = []() -> task<void> {
        auto [out, in] = co_await connected_pair(true);
        const std::vector<std::byte> a(big, std::byte{'A'});
        const std::vector<std::byte> b(big, std::byte{'B'});
        std::vector<std::byte> got(2 * big);
        auto [first, second, received] =
            co_await coil::when_all(out.send_all(a), out.send_all(b), in.recv_exact(got));
        EXPECT_TRUE(first);
        EXPECT_TRUE(second);
        EXPECT_EQ(first.transferred(), big);
        EXPECT_EQ(second.transferred(), big);
        EXPECT_TRUE(received);
        EXPECT_TRUE(std::all_of(got.begin(), got.begin() + big, [](std::byte x) { return x == std::byte{'A'}; }));
        EXPECT_TRUE(std::all_of(got.begin() + big, got.end(), [](std::byte x) { return x == std::byte{'B'}; }));
    };
    run(body());
}

// Lazy: making the awaitable takes no turn and sends nothing; the order is the order of awaiting.
TEST_P(SendAllTest, MakingASendAllStartsNothingTheAwaitOrderIsTheWireOrder) {
    auto body = []() -> task<void> {
        auto [out, in] = co_await connected_pair(false);
        auto made_first = out.send_all(bytes_of("first"));
        const transfer_result second = co_await out.send_all(bytes_of("second"));
        EXPECT_TRUE(second);
        const transfer_result first = co_await made_first;
        EXPECT_TRUE(first);
        std::string got(11, '\0');
        auto r = co_await in.recv_exact(std::as_writable_bytes(std::span(got)));
        EXPECT_TRUE(r);
        EXPECT_EQ(got, "secondfirst");
    };
    run(body());
}

TEST_P(SendAllTest, AwaitingASendAllTwiceThrowsLogicError) {
    auto body = []() -> task<void> {
        auto [out, in] = co_await connected_pair(false);
        auto op = out.send_all(bytes_of("once"));
        const transfer_result sent = co_await op;
        EXPECT_TRUE(sent);
        bool threw = false;
        try {
            (void)co_await op;
        } catch (const std::logic_error&) {
            threw = true;
        }
        EXPECT_TRUE(threw);
        std::string got(4, '\0');
        auto r = co_await in.recv_exact(std::as_writable_bytes(std::span(got)));
        EXPECT_TRUE(r);
        EXPECT_EQ(got, "once");
    };
    run(body());
}

// shield takes the awaitable: a caller already cancelled still gets the whole message out.
TEST_P(SendAllTest, ShieldedSendAllFinishesUnderACancelledCaller) {
    auto body = []() -> task<void> {
        auto [out, in] = co_await connected_pair(true);
        const std::vector<std::byte> msg = pattern(big);
        coil::cancel_source source;
        source.request_cancel();
        auto sending = send_shielded(out, msg);
        sending.set_cancel_token(source.token());
        std::vector<std::byte> got(big);
        auto [sent, received] = co_await coil::when_all(std::move(sending), in.recv_exact(got));
        EXPECT_TRUE(sent) << sent.error().message();
        EXPECT_EQ(sent.transferred(), big);
        EXPECT_EQ(got, msg);
    };
    run(body());
}

// when_any takes it too: the stuck send_all loses to a timer, is cancelled, and says how much
// it sent; the stream's turn is free again afterwards.
TEST_P(SendAllTest, WhenAnyCancelsALosingSendAllAndTheTurnIsFreeAfter) {
    auto body = []() -> task<void> {
        auto [out, in] = co_await connected_pair(true);
        const std::vector<std::byte> msg = pattern(big);
        auto first = co_await coil::when_any(out.send_all(msg), coil::sleep_for(20ms));
        EXPECT_EQ(first.index(), 1u);
        // The socket is full (nobody read): the next send_all waits for the reader, not the turn.
        auto [sent, got] = co_await coil::when_all(send_then_shut(out, bytes_of("z")), read_to_end(in, 2 * big));
        EXPECT_TRUE(sent) << sent.error().message();
        EXPECT_GT(got.size(), 1u);
        EXPECT_LT(got.size(), big + 1);
        EXPECT_EQ(got.back(), std::byte{'z'});
    };
    run(body());
}

// The awaiting task destroyed while its send_all is in the slow path: the send in flight is
// drained (ASan checks the op state), the turn passes on, and the fd stays usable.
TEST_P(SendAllTest, DestroyingTheAwaitingTaskMidMessagePassesTheTurnOn) {
    auto body = []() -> task<void> {
        auto [out, in] = co_await connected_pair(true);
        const std::vector<std::byte> msg = pattern(big);
        bool finished = false;
        auto stuck = [](const tcp_stream& s, std::span<const std::byte> m, bool& done) -> task<void> {
            [[maybe_unused]] auto r = co_await s.send_all(m);  // nobody reads: stuck mid-message
            done = true;
        };
        std::optional<coil::task_group> group(std::in_place);
        group->spawn(stuck(out, msg, finished));
        co_await coil::sleep_for(20ms);
        group.reset();  // destroys the stuck writer in its slow path
        EXPECT_FALSE(finished);
        EXPECT_EQ(coil::event_loop::current()->io_in_flight(), 0u);
        // The turn is free; the socket is full, so the reader runs alongside.
        auto [sent, got] = co_await coil::when_all(send_then_shut(out, bytes_of("after")), read_to_end(in, 2 * big));
        EXPECT_TRUE(sent) << sent.error().message();
        EXPECT_GT(got.size(), 5u);
        EXPECT_LT(got.size(), big + 5);
        EXPECT_TRUE(std::equal(got.begin(), got.end() - 5, msg.begin()));
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(got.data()) + got.size() - 5, 5), "after");
    };
    run(body());
}

COIL_INSTANTIATE_BACKEND_TEST(SendAllTest);

}  // namespace
