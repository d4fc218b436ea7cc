// Description: with_timeout / with_deadline around send_all and recv_exact (whose result is a
// coil::transfer_result, not a coil::result) treated it as a plain value: once the deadline had
// passed the value was dropped and the caller got coil::errc::timed_out alone. So
// - the count of bytes already sent or received, which transfer_result exists to report, was
//   lost exactly when it matters (a caller cannot resume or account for a partial write), and
// - a transfer that had COMPLETED (it won the race with the cancel) was reported as timed out: on
//   io_uring with_timeout(send_all(small), 0) queued the send and the zero deadline fired before
//   the completion was reaped; the bytes were on the wire, yet the caller was told they timed
//   out (and would send them again). epoll completed the send inline and reported success: the
//   two backends disagreed.
// Expected (the rule with_timeout states for result<T>): the transfer's own result, its count
// included, with an operation_canceled caused by the deadline turned into coil::errc::timed_out.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

#include "coil/net/tcp_connect.hpp"
#include "coil/net/tcp_listener.hpp"
#include "coil/net/tcp_stream.hpp"
#include "coil/runtime.hpp"
#include "coil/runtime/errc.hpp"
#include "support/backend_test.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;
using coil::tcp_stream;
using coil::transfer_result;

class TimeoutTransferTest : public coil::testing::BackendTest {};

task<std::pair<tcp_stream, tcp_stream>> connected_pair() {
    auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0)).value();
    auto [client, server] = co_await coil::when_all(coil::tcp_connect(listener.local_endpoint(), 5s),
                                                    listener.accept());
    co_return std::pair{std::move(client).value(), std::move(server).value()};
}

std::vector<std::byte> pattern(std::size_t n) {
    std::vector<std::byte> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>((i * 131) >> 5);
    return out;
}

// with_timeout yields the transfer_result itself: its count and its error.
static_assert(std::is_same_v<coil::with_timeout_result_t<task<transfer_result>>, transfer_result>);

TEST_P(TimeoutTransferTest, SendAllThatCompletesUnderAZeroTimeoutReportsSuccess) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        const auto out = pattern(100);  // far less than the socket buffer: never waits for room
        const transfer_result sent = co_await coil::with_timeout(client.send_all(out), 0ms);
        std::vector<std::byte> in(out.size());
        const transfer_result got = co_await coil::with_timeout(server.recv_exact(in), 5s);
        // Whatever the first one says must be what the peer saw.
        EXPECT_TRUE(got) << got.error().message() << " after " << got.transferred() << " bytes";
        if (!got) co_return;
        EXPECT_TRUE(sent) << "all " << out.size() << " bytes went out, yet: " << sent.error().message();
        EXPECT_EQ(sent.transferred(), out.size());
        EXPECT_EQ(in, out);
    };
    run(body());
}

TEST_P(TimeoutTransferTest, SendAllCutByItsDeadlineReportsTimedOutAndTheBytesSent) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        const auto out = pattern(8 << 20);  // far more than the socket buffers hold; nobody reads
        const transfer_result sent = co_await coil::with_timeout(client.send_all(out), 20ms);
        EXPECT_EQ(sent.error(), coil::errc::timed_out) << sent.error().message();
        EXPECT_GT(sent.transferred(), 0u);
        EXPECT_LT(sent.transferred(), out.size());
        client.close();
        // The peer receives exactly the bytes reported, the start of the buffer, then the end.
        std::vector<std::byte> in(out.size());
        const transfer_result got = co_await coil::with_timeout(server.recv_exact(in), 5s);
        EXPECT_EQ(got.error(), coil::errc::eof) << got.error().message();
        EXPECT_EQ(got.transferred(), sent.transferred());
        EXPECT_TRUE(std::equal(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(got.transferred()),
                               out.begin()));
    };
    run(body());
}

TEST_P(TimeoutTransferTest, RecvExactCutByItsDeadlineReportsTimedOutAndTheBytesReceived) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        const transfer_result sent = co_await client.send_all(std::as_bytes(std::span("abc", 3)));
        EXPECT_TRUE(sent);
        if (!sent) co_return;
        std::array<std::byte, 8> buf{};
        const transfer_result got = co_await coil::with_timeout(server.recv_exact(buf), 20ms);
        EXPECT_EQ(got.error(), coil::errc::timed_out) << got.error().message();
        EXPECT_EQ(got.transferred(), 3u);
        EXPECT_EQ(std::memcmp(buf.data(), "abc", 3), 0);
    };
    run(body());
}

TEST_P(TimeoutTransferTest, CancellingTheCallerIsOperationCanceledNotATimeoutAndKeepsTheCount) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        const transfer_result sent = co_await client.send_all(std::as_bytes(std::span("ab", 2)));
        EXPECT_TRUE(sent);
        if (!sent) co_return;
        std::array<std::byte, 8> buf{};
        coil::cancel_source caller;
        auto receiver = [](tcp_stream& s, std::span<std::byte> b) -> task<transfer_result> {
            co_return co_await coil::with_timeout(s.recv_exact(b), 5s);
        };
        auto canceller = [](coil::cancel_source& c) -> task<void> {
            co_await coil::sleep_for(10ms);
            c.request_cancel();
        };
        auto r = receiver(server, buf);
        r.set_cancel_token(caller.token());
        auto [got, done] = co_await coil::when_all(std::move(r), canceller(caller));
        EXPECT_EQ(got.error(), std::errc::operation_canceled) << got.error().message();
        EXPECT_EQ(got.transferred(), 2u);
    };
    run(body());
}

COIL_INSTANTIATE_BACKEND_TEST(TimeoutTransferTest);

}  // namespace
