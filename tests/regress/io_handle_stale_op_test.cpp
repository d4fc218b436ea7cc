// Description: an operation made from a tcp_stream (or any io_handle) before close() and awaited
// after it. tcp_stream::recv/send return an awaitable that captured the handle's fd record and fd
// number when it was MADE, not when it is awaited, and with_timeout, when_all & co. take such
// awaitables by value and await them later. So
//     auto op = coil::with_timeout(stream.recv(buf), 1s);   // or: auto op = stream.recv(buf);
//     stream.close();
//     co_await op;
// - with nothing else in flight, close() freed the record and closed the fd: awaiting counted the
//   op on freed memory (heap-use-after-free) and ran recv(2) on a closed fd number, which the
//   kernel may already have given to another socket: the op could read another connection's data;
// - with another task's op still in flight (the record lives on until it ends), the new op was
//   counted and issued on the fd that was being closed, after close() had cancelled what was in
//   flight: nothing cancelled it, so it waited for data that never came, and the fd stayed open.
// The contract (tcp_stream.hpp, docs/lifetimes.md): an operation started after close() gets
// bad_file_descriptor, at once, without touching the fd.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstring>
#include <span>
#include <utility>

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

class IoHandleStaleOpTest : public coil::testing::BackendTest {};

task<std::pair<tcp_stream, tcp_stream>> connected_pair(coil::tcp_listener& listener) {
    auto [client, server] = co_await coil::when_all(coil::tcp_connect(listener.local_endpoint(), 5s),
                                                    listener.accept());
    co_return std::pair{std::move(client).value(), std::move(server).value()};
}

TEST_P(IoHandleStaleOpTest, ARecvMadeBeforeCloseAndAwaitedAfterGetsBadFileDescriptor) {
    auto body = []() -> task<void> {
        auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0)).value();
        auto [client, server] = co_await connected_pair(listener);
        std::array<std::byte, 16> buf{};
        auto op = server.recv(buf);
        const int old_fd = server.native_handle();
        server.close();
        // The kernel hands out the lowest free number: one end of the next connection gets it.
        auto [client2, server2] = co_await connected_pair(listener);
        EXPECT_TRUE(client2.native_handle() == old_fd || server2.native_handle() == old_fd)
            << "the fd number was not reused (a weaker check)";
        // Bytes in flight both ways: a recv on the reused number would take one side's.
        const transfer_result to_server = co_await client2.send_all(std::as_bytes(std::span("hello", 5)));
        const transfer_result to_client = co_await server2.send_all(std::as_bytes(std::span("world", 5)));
        EXPECT_TRUE(to_server && to_client);
        auto r = co_await coil::with_timeout(std::move(op), 2s);
        EXPECT_FALSE(r) << "the stale op received " << (r ? *r : 0) << " bytes of another connection";
        if (!r) {
            EXPECT_EQ(r.error(), std::errc::bad_file_descriptor) << r.error().message();
        }
        // The new connection's bytes are still there for their owners.
        std::array<std::byte, 5> at_server{};
        std::array<std::byte, 5> at_client{};
        const transfer_result s_got = co_await coil::with_timeout(server2.recv_exact(at_server), 2s);
        const transfer_result c_got = co_await coil::with_timeout(client2.recv_exact(at_client), 2s);
        EXPECT_TRUE(s_got) << s_got.error().message();
        EXPECT_TRUE(c_got) << c_got.error().message();
        EXPECT_EQ(std::memcmp(at_server.data(), "hello", 5), 0);
        EXPECT_EQ(std::memcmp(at_client.data(), "world", 5), 0);
    };
    run(body());
}

TEST_P(IoHandleStaleOpTest, ASendMadeBeforeCloseAndAwaitedAfterGetsBadFileDescriptor) {
    auto body = []() -> task<void> {
        auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0)).value();
        auto [client, server] = co_await connected_pair(listener);
        auto op = coil::with_timeout(client.send(std::as_bytes(std::span("x", 1))), 2s);
        client.close();
        auto r = co_await std::move(op);
        EXPECT_FALSE(r);
        if (!r) {
            EXPECT_EQ(r.error(), std::errc::bad_file_descriptor) << r.error().message();
        }
    };
    run(body());
}

TEST_P(IoHandleStaleOpTest, AnOpAwaitedAfterCloseWhileAnotherIsInFlightGetsBadFileDescriptorAtOnce) {
    auto body = []() -> task<void> {
        auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0)).value();
        auto [client, server] = co_await connected_pair(listener);
        std::array<std::byte, 16> first{};
        std::array<std::byte, 16> second{};
        auto waiting = [](tcp_stream& s, std::span<std::byte> b) -> task<coil::result<std::size_t>> {
            co_return co_await s.recv(b);  // nothing is ever sent: ends only by the close
        };
        auto closing = [](tcp_stream& s, std::span<std::byte> b) -> task<coil::result<std::size_t>> {
            auto late = s.recv(b);  // made while the stream is open
            co_await coil::yield();  // the other recv is waiting by now
            s.close();
            co_return co_await coil::with_timeout(std::move(late), 2s);
        };
        auto [a, b] = co_await coil::when_all(waiting(server, first), closing(server, second));
        EXPECT_EQ(a.error(), std::errc::operation_canceled) << a.error().message();
        EXPECT_EQ(b.error(), std::errc::bad_file_descriptor) << b.error().message();
    };
    run(body());
}

COIL_INSTANTIATE_BACKEND_TEST(IoHandleStaleOpTest);

}  // namespace
