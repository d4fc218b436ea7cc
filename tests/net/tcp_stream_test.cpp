#include "coil/net/tcp_stream.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "coil/net/tcp_connect.hpp"
#include "coil/net/tcp_listener.hpp"
#include "coil/runtime.hpp"
#include "coil/runtime/errc.hpp"
#include "support/backend_test.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;
using coil::tcp_stream;

class TcpStreamTest : public coil::testing::BackendTest {};

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s)); }

// A connected pair on loopback: {client side, server side}.
task<std::pair<tcp_stream, tcp_stream>> connected_pair(coil::ip_endpoint bind_to) {
    auto listener = coil::tcp_listener::bind(bind_to).value();
    auto [client, server] = co_await coil::when_all(coil::tcp_connect(listener.local_endpoint(), 5s),
                                                    listener.accept());
    co_return std::pair{std::move(client).value(), std::move(server).value()};
}

TEST_P(TcpStreamTest, ConnectAcceptAndExchangeMessages) {
    auto body = []() -> task<std::string> {
        auto [client, server] = co_await connected_pair(coil::ip_endpoint::loopback_v4(0));
        auto awaited1 = co_await client.send_all(bytes_of("ping"));
        EXPECT_TRUE(awaited1);
        std::array<std::byte, 4> got{};
        auto awaited2 = co_await server.recv_exact(got);
        EXPECT_TRUE(awaited2);
        auto awaited3 = co_await server.send_all(got);
        EXPECT_TRUE(awaited3);
        std::array<std::byte, 4> back{};
        auto awaited4 = co_await client.recv_exact(back);
        EXPECT_TRUE(awaited4);
        co_return std::string(reinterpret_cast<const char*>(back.data()), back.size());
    };
    EXPECT_EQ(run(body()), "ping");
}

TEST_P(TcpStreamTest, WorksOverIpv6Loopback) {
    auto body = []() -> task<bool> {
        auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v6(0));
        if (!listener) co_return false;  // no ::1 on this machine
        auto [client, server] = co_await coil::when_all(coil::tcp_connect(listener->local_endpoint(), 5s),
                                                        listener->accept());
        EXPECT_TRUE(client && server);
        EXPECT_TRUE(server->peer_endpoint()->is_v6());
        auto awaited5 = co_await client->send_all(bytes_of("six"));
        EXPECT_TRUE(awaited5);
        std::array<std::byte, 3> got{};
        auto awaited6 = co_await server->recv_exact(got);
        EXPECT_TRUE(awaited6);
        co_return true;
    };
    if (!run(body())) GTEST_SKIP() << "IPv6 loopback unavailable";
}

TEST_P(TcpStreamTest, EndpointsDescribeBothEnds) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair(coil::ip_endpoint::loopback_v4(0));
        EXPECT_EQ(client.peer_endpoint().value(), server.local_endpoint().value());
        EXPECT_EQ(server.peer_endpoint().value(), client.local_endpoint().value());
    };
    run(body());
}

TEST_P(TcpStreamTest, HalfCloseDeliversEofWhileTheOtherDirectionStillWorks) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair(coil::ip_endpoint::loopback_v4(0));
        auto awaited7 = co_await client.send_all(bytes_of("last words"));
        EXPECT_TRUE(awaited7);
        EXPECT_TRUE(client.shutdown(coil::shutdown_how::write));
        std::array<std::byte, 10> got{};
        auto awaited8 = co_await server.recv_exact(got);
        EXPECT_TRUE(awaited8);
        std::array<std::byte, 1> more{};
        auto end = co_await server.recv(more);
        EXPECT_EQ(end.error(), coil::errc::eof);
        // The server can still answer on its half.
        auto awaited9 = co_await server.send_all(bytes_of("ok"));
        EXPECT_TRUE(awaited9);
        std::array<std::byte, 2> reply{};
        auto awaited10 = co_await client.recv_exact(reply);
        EXPECT_TRUE(awaited10);
    };
    run(body());
}

TEST_P(TcpStreamTest, PeerResetIsAnErrorNotEof) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair(coil::ip_endpoint::loopback_v4(0));
        linger abort_on_close{1, 0};
        ::setsockopt(client.native_handle(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
        client.close();  // RST
        std::array<std::byte, 8> buf{};
        auto r = co_await server.recv(buf);
        EXPECT_EQ(r.error(), std::errc::connection_reset);
    };
    run(body());
}

TEST_P(TcpStreamTest, SendAllDeliversEightMiBThroughDefaultSocketBuffers) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair(coil::ip_endpoint::loopback_v4(0));
        std::vector<std::byte> out(8 << 20);
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>((i * 131) >> 7);
        std::vector<std::byte> in(out.size());
        // Far more than the socket buffers hold: send_all must loop over partial sends while the
        // reader drains concurrently.
        auto [sent, received] = co_await coil::when_all(client.send_all(out), server.recv_exact(in));
        EXPECT_TRUE(sent) << sent.error().message();
        EXPECT_TRUE(received) << received.error().message();
        EXPECT_EQ(sent.transferred(), out.size());
        EXPECT_EQ(received.transferred(), in.size());
        EXPECT_TRUE(in == out);
    };
    run(body());
}

TEST_P(TcpStreamTest, RecvExactReportsEofAndTheBytesReceivedWhenTheStreamEndsEarly) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair(coil::ip_endpoint::loopback_v4(0));
        auto awaited11 = co_await client.send_all(bytes_of("abc"));
        EXPECT_TRUE(awaited11);
        client.close();
        std::array<std::byte, 8> buf{};
        auto r = co_await server.recv_exact(buf);
        EXPECT_EQ(r.error(), coil::errc::eof);
        EXPECT_EQ(r.transferred(), 3u);
        EXPECT_EQ(std::memcmp(buf.data(), "abc", 3), 0);
    };
    run(body());
}

TEST_P(TcpStreamTest, ClosingAStreamWhileAnotherTaskReadsCancelsTheReadAndClosesAfterIt) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair(coil::ip_endpoint::loopback_v4(0));
        auto reader = [](tcp_stream& s) -> task<std::error_code> {
            std::array<std::byte, 8> buf{};
            auto r = co_await s.recv(buf);
            co_return r.error();
        };
        auto closer = [](tcp_stream& s) -> task<std::error_code> {
            co_await coil::sleep_for(2ms);
            s.close();  // the reader's recv is in flight
            co_return std::error_code{};
        };
        auto [read_error, ignored] = co_await coil::when_all(reader(server), closer(server));
        EXPECT_EQ(read_error, std::errc::operation_canceled);
        // After the read finished, the fd is really closed: the client sees end of stream.
        std::array<std::byte, 1> buf{};
        auto r = co_await client.recv(buf);
        EXPECT_EQ(r.error(), coil::errc::eof);
    };
    run(body());
}

// Regression: an operation on a closed stream dereferenced its null fd record.
TEST_P(TcpStreamTest, UsingAClosedStreamIsAnErrorNotACrash) {
    auto body = []() -> task<std::error_code> {
        auto [client, server] = co_await connected_pair(coil::ip_endpoint::loopback_v4(0));
        client.close();
        std::array<std::byte, 4> buf{};
        auto r = co_await client.recv(buf);
        co_return r.error();
    };
    EXPECT_EQ(run(body()), std::errc::bad_file_descriptor);
}

// Regression: closing a listener while other tasks waited in accept() ended them with
// operation_canceled on io_uring but bad_file_descriptor on epoll, so the README's accept loop
// (which stops on operation_canceled) retried forever on epoll. Now operation_canceled on both.
task<std::error_code> accept_error(coil::tcp_listener& l) {
    auto r = co_await coil::with_timeout(l.accept(), 5s);
    co_return r.error();
}

TEST_P(TcpStreamTest, ClosingAListenerEndsEveryWaitingAcceptWithOperationCanceled) {
    auto body = []() -> task<void> {
        auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0)).value();
        auto closer = [](coil::tcp_listener& l) -> task<void> {
            co_await coil::sleep_for(5ms);
            l.close();
        };
        auto [first, second, done] =
            co_await coil::when_all(accept_error(listener), accept_error(listener), closer(listener));
        EXPECT_EQ(first, std::errc::operation_canceled) << first.message();
        EXPECT_EQ(second, std::errc::operation_canceled) << second.message();
        auto after = co_await listener.accept();
        EXPECT_EQ(after.error(), std::errc::bad_file_descriptor) << "accept on a closed listener";
    };
    run(body());
}

TEST_P(TcpStreamTest, DestroyingAListenerEndsAWaitingAcceptWithOperationCanceled) {
    auto body = []() -> task<std::error_code> {
        std::optional<coil::tcp_listener> listener(coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0)).value());
        auto destroyer = [](std::optional<coil::tcp_listener>& l) -> task<void> {
            co_await coil::sleep_for(5ms);
            l.reset();
        };
        auto [error, done] = co_await coil::when_all(accept_error(*listener), destroyer(listener));
        co_return error;
    };
    EXPECT_EQ(run(body()), std::errc::operation_canceled);
}

// Fills the stream's send buffer (the peer reads nothing) until a send would wait.
task<void> fill(const tcp_stream& s) {
    std::vector<std::byte> chunk(64 * 1024);
    for (int i = 0; i < 10'000; ++i) {
        auto sent = co_await coil::with_timeout(s.send(chunk), 2ms);
        if (!sent) break;
    }
}

TEST_P(TcpStreamTest, ClosingAStreamWhileAnotherTaskSendsCancelsTheSend) {
    auto body = []() -> task<std::error_code> {
        auto [client, server] = co_await connected_pair(coil::ip_endpoint::loopback_v4(0));
        co_await fill(client);
        auto sender = [](tcp_stream& s) -> task<std::error_code> {
            auto r = co_await coil::with_timeout(s.send(bytes_of("more")), 5s);
            co_return r.error();
        };
        auto closer = [](tcp_stream& s) -> task<void> {
            co_await coil::sleep_for(5ms);
            s.close();
        };
        auto [error, done] = co_await coil::when_all(sender(client), closer(client));
        co_return error;
    };
    EXPECT_EQ(run(body()), std::errc::operation_canceled);
}

// send_all says how many bytes went out before an error: here the stream is closed under it. The
// peer then receives exactly that many bytes, and they are the start of the buffer.
TEST_P(TcpStreamTest, SendAllReportsTheBytesSentBeforeAnError) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair(coil::ip_endpoint::loopback_v4(0));
        std::vector<std::byte> out(8 << 20);  // far more than the socket buffers hold
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>((i * 131) >> 7);
        auto closer = [](tcp_stream& s) -> task<void> {
            co_await coil::sleep_for(5ms);  // send_all is waiting for room by then
            s.close();
        };
        auto [sent, done] = co_await coil::when_all(client.send_all(out), closer(client));
        EXPECT_EQ(sent.error(), std::errc::operation_canceled) << sent.error().message();
        EXPECT_GT(sent.transferred(), 0u);
        EXPECT_LT(sent.transferred(), out.size());
        std::vector<std::byte> in(out.size());
        const coil::transfer_result got = co_await coil::with_timeout(server.recv_exact(in), 5s);
        EXPECT_NE(got.error(), coil::errc::timed_out) << "the peer never saw the end of the stream";
        EXPECT_EQ(got.error(), coil::errc::eof);  // the client closed after what it sent
        EXPECT_EQ(got.transferred(), sent.transferred());
        EXPECT_TRUE(std::equal(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(got.transferred()), out.begin()));
    };
    run(body());
}

TEST_P(TcpStreamTest, ClosingAStreamUnderRecvExactEndsItWithOperationCanceledAndTheCountReceived) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair(coil::ip_endpoint::loopback_v4(0));
        auto awaited12 = co_await client.send_all(bytes_of("abc"));
        EXPECT_TRUE(awaited12);
        std::array<std::byte, 8> buf{};
        auto closer = [](tcp_stream& s) -> task<void> {
            co_await coil::sleep_for(5ms);  // recv_exact has the 3 bytes and waits for more
            s.close();
        };
        auto [got, done] = co_await coil::when_all(server.recv_exact(buf), closer(server));
        EXPECT_EQ(got.error(), std::errc::operation_canceled) << got.error().message();
        EXPECT_EQ(got.transferred(), 3u);
        EXPECT_EQ(std::memcmp(buf.data(), "abc", 3), 0);
    };
    run(body());
}

// Regression kind: empty buffers complete at once with 0 bytes on every stream operation (the
// peer sends nothing, and the send side is full, so any wait would last until the timeout).
TEST_P(TcpStreamTest, ZeroLengthRecvCompletesAtOnce) {
    auto body = []() -> task<coil::result<std::size_t>> {
        auto [client, server] = co_await connected_pair(coil::ip_endpoint::loopback_v4(0));
        co_return co_await coil::with_timeout(server.recv(std::span<std::byte>{}), 2s);
    };
    const auto got = run(body());
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(*got, 0u);
}

TEST_P(TcpStreamTest, ZeroLengthSendCompletesAtOnceOnAFullStream) {
    auto body = []() -> task<coil::result<std::size_t>> {
        auto [client, server] = co_await connected_pair(coil::ip_endpoint::loopback_v4(0));
        co_await fill(client);
        co_return co_await coil::with_timeout(client.send(std::span<const std::byte>{}), 2s);
    };
    const auto sent = run(body());
    ASSERT_TRUE(sent) << sent.error().message();
    EXPECT_EQ(*sent, 0u);
}

TEST_P(TcpStreamTest, ZeroLengthSendAllCompletesAtOnceOnAFullStream) {
    auto body = []() -> task<coil::transfer_result> {
        auto [client, server] = co_await connected_pair(coil::ip_endpoint::loopback_v4(0));
        co_await fill(client);
        co_return co_await coil::with_timeout(client.send_all(std::span<const std::byte>{}), 2s);
    };
    const auto r = run(body());
    EXPECT_TRUE(r) << r.error().message();  // neither a timeout nor an error
    EXPECT_EQ(r.transferred(), 0u);
}

TEST_P(TcpStreamTest, ZeroLengthRecvExactCompletesAtOnce) {
    auto body = []() -> task<coil::transfer_result> {
        auto [client, server] = co_await connected_pair(coil::ip_endpoint::loopback_v4(0));
        co_return co_await coil::with_timeout(server.recv_exact(std::span<std::byte>{}), 2s);
    };
    const auto r = run(body());
    EXPECT_TRUE(r) << r.error().message();  // neither a timeout nor an error
    EXPECT_EQ(r.transferred(), 0u);
}

TEST_P(TcpStreamTest, ConnectToAPortNobodyListensOnIsRefused) {
    auto body = []() -> task<std::error_code> {
        coil::ip_endpoint closed;
        {
            auto l = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0)).value();
            closed = l.local_endpoint();
        }
        auto s = co_await coil::tcp_connect(closed, 5s);
        co_return s.error();
    };
    EXPECT_EQ(run(body()), std::errc::connection_refused);
}

// A listener that is never accepted from, with a backlog of one: once its accept queue is full,
// the kernel drops further SYNs, so a further handshake never completes.
task<std::error_code> connect_to_a_full_backlog(std::chrono::nanoseconds timeout) {
    coil::listen_options tiny;
    tiny.backlog = 1;
    auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0), tiny).value();
    std::vector<tcp_stream> queued;
    for (int i = 0; i < 2; ++i) {
        auto s = co_await coil::tcp_connect(listener.local_endpoint(), 1s);
        if (s) queued.push_back(std::move(*s));
    }
    auto late = co_await coil::tcp_connect(listener.local_endpoint(), timeout);
    co_return late.error();
}

TEST_P(TcpStreamTest, ConnectTimesOutWhenTheListenerDropsTheHandshake) {
    const std::error_code e = run(connect_to_a_full_backlog(50ms));
    // Issue 7: coil's deadline, not the kernel's ETIMEDOUT ("Connection timed out").
    EXPECT_EQ(e, coil::errc::timed_out) << e.message();
    EXPECT_TRUE(e == std::errc::timed_out);
}

// Issue 6: a timeout too long for the clock means no limit (it overflowed into "expired").
TEST_P(TcpStreamTest, ConnectWithATimeoutTooLongForTheClockConnects) {
    auto body = []() -> task<void> {
        auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0)).value();
        auto a = co_await coil::tcp_connect(listener.local_endpoint(), std::chrono::nanoseconds::max());
        EXPECT_TRUE(a) << a.error().message();
        auto b = co_await coil::tcp_connect(listener.local_endpoint(), std::chrono::hours::max());
        EXPECT_TRUE(b) << b.error().message();
        auto c = co_await coil::tcp_connect(listener.local_endpoint(), std::chrono::duration<double>(1e300));
        EXPECT_TRUE(c) << c.error().message();
        EXPECT_EQ(coil::event_loop::current()->armed_timers(), 0u);
    };
    run(body());
}

TEST_P(TcpStreamTest, ConnectWithANegativeTimeoutExpiresAtOnce) {
    EXPECT_EQ(run(connect_to_a_full_backlog(std::chrono::nanoseconds::min())), coil::errc::timed_out);
    EXPECT_EQ(run(connect_to_a_full_backlog(-1s)), coil::errc::timed_out);
}

TEST_P(TcpStreamTest, ListenersCanShareAPortWithReusePort) {
    auto body = []() -> task<void> {
        coil::listen_options shared;
        shared.reuse_port = true;
        auto first = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0), shared).value();
        auto second = coil::tcp_listener::bind(first.local_endpoint(), shared);
        EXPECT_TRUE(second) << second.error().message();
        auto third = coil::tcp_listener::bind(first.local_endpoint());  // without it: in use
        EXPECT_EQ(third.error(), std::errc::address_in_use);
        co_return;
    };
    run(body());
}

COIL_INSTANTIATE_BACKEND_TEST(TcpStreamTest);

}  // namespace
