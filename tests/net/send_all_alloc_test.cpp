// Description: a send_all whose first send takes the whole message allocates nothing, no
// coroutine frame in particular (issue 9, item 4: send_all was a task, a frame per call). A
// message that needs more than one send continues in one frame, and still arrives whole.
// This binary replaces the global operator new to count allocations (malloc-backed), so it is
// kept apart from the other tests.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <new>
#include <utility>
#include <vector>

#include "coil/net/tcp_connect.hpp"
#include "coil/net/tcp_listener.hpp"
#include "coil/net/tcp_stream.hpp"
#include "coil/runtime.hpp"
#include "support/backend_test.hpp"

#include "support/counting_new.hpp"

using coil::testing::allocations;

namespace {

using namespace std::chrono_literals;
using coil::task;
using coil::tcp_stream;

class SendAllAllocTest : public coil::testing::BackendTest {};

task<std::pair<tcp_stream, tcp_stream>> connected_pair() {
    auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0)).value();
    auto [client, server] = co_await coil::when_all(coil::tcp_connect(listener.local_endpoint(), 5s),
                                                    listener.accept());
    co_return std::pair{std::move(client).value(), std::move(server).value()};
}

// A function, not a capturing lambda (GCC 12 may keep such a lambda on the stack).
task<long> allocations_of_send(const tcp_stream& out, std::span<const std::byte> msg) {
    const long before = allocations;
    const coil::transfer_result sent = co_await out.send_all(msg);
    EXPECT_TRUE(sent) << sent.error().message();
    EXPECT_EQ(sent.transferred(), msg.size());
    co_return allocations - before;
}

TEST_P(SendAllAllocTest, ASendAllWhoseFirstSendTakesTheWholeMessageAllocatesNothing) {
    auto body = []() -> task<void> {
        auto [out, in] = co_await connected_pair();
        const std::vector<std::byte> msg(512, std::byte{'x'});
        std::vector<std::byte> got(msg.size());
        for (int round = 0; round < 3; ++round) {
            const long before = allocations;
            const coil::transfer_result sent = co_await out.send_all(msg);
            const long made = allocations - before;
            EXPECT_TRUE(sent) << sent.error().message();
            EXPECT_EQ(sent.transferred(), msg.size());
            EXPECT_EQ(made, 0) << "round " << round;
            auto back = co_await in.recv_exact(got);
            EXPECT_TRUE(back);
            EXPECT_EQ(got, msg);
        }
    };
    run(body());
}

// The slow path is a frame: counted to show the counter sees one (so the 0 above is not a
// counter that cannot count), and the message still arrives whole.
TEST_P(SendAllAllocTest, AMessageLargerThanTheSocketBufferContinuesInAFrame) {
    auto body = []() -> task<void> {
        auto [out, in] = co_await connected_pair();
        const int size = 8 * 1024;
        EXPECT_EQ(::setsockopt(out.native_handle(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size), 0);
        EXPECT_EQ(::setsockopt(in.native_handle(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size), 0);
        std::vector<std::byte> msg(256 * 1024);
        for (std::size_t i = 0; i < msg.size(); ++i) msg[i] = std::byte(i % 251);
        std::vector<std::byte> got(msg.size());
        // The reader starts first and waits; its own frame is made before the count starts.
        auto reader = in.recv_exact(got);
        auto sending = allocations_of_send(out, msg);
        auto [received, made] = co_await coil::when_all(std::move(reader), std::move(sending));
        EXPECT_GE(made, 1);
        EXPECT_TRUE(received);
        EXPECT_EQ(got, msg);
    };
    run(body());
}

COIL_INSTANTIATE_BACKEND_TEST(SendAllAllocTest);

}  // namespace
