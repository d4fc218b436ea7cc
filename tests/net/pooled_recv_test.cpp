// Pooled receives (tcp_stream::recv_pooled, coil::pooled_buffer) on both backends: io_uring's
// multishot recv with a provided buffer ring, epoll's receive into a pool buffer taken once the
// socket is readable, and io_uring's readiness path (loop_options::recv_multishot = false).
// Each test checks the bytes (all of them, in order) and that every pool buffer comes back
// (event_loop::pool_buffers_in_use), and the fixture checks that no fd leaked.

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "coil/net/tcp_connect.hpp"
#include "coil/net/tcp_listener.hpp"
#include "coil/net/tcp_stream.hpp"
#include "coil/runtime.hpp"
#include "coil/runtime/errc.hpp"
#include "support/backend_test.hpp"
#include "support/sockets.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;
using coil::tcp_stream;

class PooledRecvTest : public coil::testing::BackendTest {
protected:
    // Tiny buffers and a tiny pool: a few small messages exhaust it.
    [[nodiscard]] coil::loop_options tiny_pool(std::uint32_t count, std::uint32_t size) const {
        coil::loop_options o = options();
        o.recv_buffer_count = count;
        o.recv_buffer_size = size;
        return o;
    }
};

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s)); }
std::string text_of(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

std::size_t in_use() { return coil::event_loop::current_or_throw().pool_buffers_in_use(); }
bool multishot() { return coil::event_loop::current_or_throw().supports_multishot_recv(); }

task<std::pair<tcp_stream, tcp_stream>> connected_pair() {
    auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0)).value();
    auto [client, server] = co_await coil::when_all(coil::tcp_connect(listener.local_endpoint(), 5s),
                                                    listener.accept());
    co_return std::pair{std::move(client).value(), std::move(server).value()};
}

// Receives until `total` bytes have come (or an error), appending them to `out`.
task<std::error_code> receive_all(const tcp_stream& s, std::size_t total, std::string& out) {
    while (out.size() < total) {
        auto buf = co_await s.recv_pooled();
        if (!buf) co_return buf.error();
        EXPECT_GT(buf->size(), 0u);
        out += text_of(buf->bytes());
    }
    co_return std::error_code{};
}

// Lets the loop poll (completions get reaped) until `done()` or about a second has passed.
template <class Pred>
task<bool> poll_until(Pred done) {
    for (int i = 0; i < 200 && !done(); ++i) co_await coil::sleep_for(5ms);
    co_return done();
}

// "" when equal, else where they part (long strings stay out of the test log).
std::string difference(const std::string& got, const std::string& expected) {
    if (got == expected) return "";
    std::size_t i = 0;
    while (i < got.size() && i < expected.size() && got[i] == expected[i]) ++i;
    return "got " + std::to_string(got.size()) + " bytes, expected " + std::to_string(expected.size()) +
           "; first difference at " + std::to_string(i) + ": got '" + got.substr(i, 20) + "', expected '" +
           expected.substr(i, 20) + "'";
}

std::string numbered_messages(int count) {
    std::string all;
    for (int i = 0; i < count; ++i) {
        char m[16];
        std::snprintf(m, sizeof m, "<%05d>", i);
        all += m;
    }
    return all;
}

TEST_P(PooledRecvTest, ReceivesWhatThePeerSentAndGivesTheBufferBack) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        EXPECT_EQ(in_use(), 0u);
        auto sent = co_await client.send_all(bytes_of("hello"));
        EXPECT_TRUE(sent);
        {
            auto buf = co_await server.recv_pooled();
            EXPECT_TRUE(buf);
            if (!buf) co_return;
            EXPECT_EQ(text_of(buf->bytes()), "hello");
            EXPECT_EQ(buf->size(), 5u);
            EXPECT_EQ(in_use(), 1u);
            EXPECT_EQ(coil::event_loop::current_or_throw().stats().pool_buffers_in_use, 1u);
        }
        EXPECT_EQ(in_use(), 0u);
        EXPECT_EQ(coil::event_loop::current_or_throw().stats().pool_buffers_in_use, 0u);
        client.close();
        auto end = co_await server.recv_pooled();
        EXPECT_EQ(end.error(), coil::errc::eof);
        EXPECT_EQ(in_use(), 0u);
    };
    run(body());
}

TEST_P(PooledRecvTest, EchoLoopCarriesEveryByteInOrder) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        const std::string all = numbered_messages(2000);  // 14,000 bytes
        auto echo = [](const tcp_stream& s) -> task<void> {
            for (;;) {
                auto buf = co_await s.recv_pooled();
                if (!buf) co_return;
                auto sent = co_await s.send_all(buf->bytes());
                if (!sent) co_return;
            }
        };
        auto talk = [&all](tcp_stream& c) -> task<std::string> {
            std::string back;
            auto sent = co_await c.send_all(bytes_of(all));
            EXPECT_TRUE(sent);
            auto got = co_await receive_all(c, all.size(), back);
            EXPECT_FALSE(got);
            c.close();
            co_return back;
        };
        auto [ignored, back] = co_await coil::when_all(echo(server), talk(client));
        (void)ignored;
        EXPECT_EQ(difference(back, all), "");
        EXPECT_EQ(in_use(), 0u);
    };
    run(body());
}

// The pool holds 4 buffers; the reader keeps the last 6 it got, so the pool runs dry again and
// again (io_uring: the multishot ends with ENOBUFS and the waiting call receives into a heap
// buffer; epoll: take() hands out heap buffers). Nothing may be lost or reordered.
TEST_P(PooledRecvTest, RingExhaustionLosesNoBytes) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        const std::string all = numbered_messages(3000);  // 21,000 bytes through 64-byte buffers
        auto reader = [&all](const tcp_stream& s) -> task<std::string> {
            std::string got;
            std::deque<coil::pooled_buffer> held;
            std::size_t most_in_use = 0;
            while (got.size() < all.size()) {
                auto buf = co_await s.recv_pooled();
                EXPECT_TRUE(buf) << buf.error().message();
                if (!buf) break;
                got += text_of(buf->bytes());
                held.push_back(std::move(*buf));
                if (held.size() > 6) held.pop_front();
                most_in_use = std::max(most_in_use, in_use());
            }
            // More buffers were out at once than the pool has: it ran dry, and grew instead of
            // losing data or waiting.
            EXPECT_GT(most_in_use, 4u);
            held.clear();
            EXPECT_EQ(in_use(), 0u);
            co_return got;
        };
        auto writer = [&all](tcp_stream& c) -> task<void> {
            // In pieces, with pauses, so that many receives happen (not one big one).
            for (std::size_t at = 0; at < all.size(); at += 700) {
                auto sent = co_await c.send_all(bytes_of(all).subspan(at, std::min<std::size_t>(700, all.size() - at)));
                EXPECT_TRUE(sent);
                co_await coil::sleep_for(1ms);
            }
        };
        auto [got, ignored] = co_await coil::when_all(reader(server), writer(client));
        (void)ignored;
        EXPECT_EQ(difference(got, all), "");
    };
    coil::run(body(), tiny_pool(4, 64));
}

// Data that arrives before the task asks: io_uring queues the multishot's completions for the
// stream (buffers in use while nobody asked); epoll leaves it in the socket (no buffer in use).
// Either way the next calls return it, in order.
TEST_P(PooledRecvTest, DataThatArrivesBeforeTheTaskAsksIsKeptInOrder) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        auto sent = co_await client.send_all(bytes_of("first"));
        EXPECT_TRUE(sent);
        auto first = co_await server.recv_pooled();  // arms the multishot on io_uring
        EXPECT_EQ(text_of(first.value().bytes()), "first");
        first->reset();
        std::string expected;
        for (int i = 0; i < 5; ++i) {
            const std::string m = "[message " + std::to_string(i) + "]";
            expected += m;
            auto more = co_await client.send_all(bytes_of(m));
            EXPECT_TRUE(more);
            co_await coil::sleep_for(2ms);  // a separate segment, reaped while nobody asks
        }
        if (multishot()) {
            auto queued = co_await poll_until([] { return in_use() >= 1; });
            EXPECT_TRUE(queued) << "the multishot's completions were not queued for the stream";
        } else {
            EXPECT_EQ(in_use(), 0u);  // the bytes wait in the socket, not in a pool buffer
        }
        std::string got;
        auto err = co_await receive_all(server, expected.size(), got);
        EXPECT_FALSE(err);
        EXPECT_EQ(got, expected);
        EXPECT_EQ(in_use(), 0u);
    };
    run(body());
}

// Many small messages, sent while the reader does not ask: on io_uring the queue fills up to its
// limit (16), the multishot pauses, and is armed again when the reader catches up.
TEST_P(PooledRecvTest, ManySmallMessagesKeepTheirOrderAcrossPauses) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        (void)client.set_nodelay();
        auto warm = co_await client.send_all(bytes_of("!"));
        EXPECT_TRUE(warm);
        auto first = co_await server.recv_pooled();  // arms the multishot on io_uring
        EXPECT_EQ(text_of(first.value().bytes()), "!");
        first->reset();
        const std::string all = numbered_messages(60);
        for (int i = 0; i < 60; ++i) {
            auto sent = co_await client.send_all(bytes_of(all).subspan(static_cast<std::size_t>(i) * 7, 7));
            EXPECT_TRUE(sent);
            co_await coil::sleep_for(1ms);
        }
        if (multishot()) {
            // Paused at the limit: never much more than 16 completions wait for one stream.
            co_await coil::sleep_for(10ms);
            EXPECT_GE(in_use(), 1u);
            EXPECT_LE(in_use(), 20u);
        }
        std::string got;
        auto err = co_await receive_all(server, all.size(), got);
        EXPECT_FALSE(err);
        EXPECT_EQ(difference(got, all), "");
        EXPECT_EQ(in_use(), 0u);
    };
    run(body());
}

TEST_P(PooledRecvTest, ABufferDroppedAfterItsStreamClosedIsStillValid) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        auto sent = co_await client.send_all(bytes_of("kept past close"));
        EXPECT_TRUE(sent);
        auto buf = co_await server.recv_pooled();
        EXPECT_TRUE(buf);
        server.close();
        client.close();
        co_await coil::sleep_for(1ms);  // the multishot's last completion is reaped
        EXPECT_EQ(text_of(buf.value().bytes()), "kept past close");
        EXPECT_EQ(in_use(), 1u);
        buf->reset();
        EXPECT_EQ(in_use(), 0u);
        EXPECT_EQ(coil::event_loop::current_or_throw().io_in_flight(), 0u);
    };
    run(body());
}

// The pool's memory outlives the loop while a buffer is out: reading and dropping it afterwards
// is safe (ASan would report a use-after-free or a leak otherwise).
TEST_P(PooledRecvTest, ABufferDroppedAfterTheLoopEndedIsStillValid) {
    auto body = []() -> task<coil::pooled_buffer> {
        auto [client, server] = co_await connected_pair();
        auto sent = co_await client.send_all(bytes_of("outlives the loop"));
        EXPECT_TRUE(sent);
        auto buf = co_await server.recv_pooled();
        co_return std::move(buf).value();
    };
    coil::pooled_buffer kept = run(body());
    EXPECT_EQ(text_of(kept.bytes()), "outlives the loop");
    kept.reset();
    EXPECT_TRUE(kept.empty());
}

// A stream that outlives its loop with the multishot armed and completions queued: the loop
// drains the multishot when it goes, the queued buffers stay, and destroying the stream later
// gives them back and closes the fd.
TEST_P(PooledRecvTest, AStreamWithQueuedDataOutlivesItsLoop) {
    std::optional<tcp_stream> client;
    std::optional<tcp_stream> server;
    {
        coil::event_loop loop(options());
        auto body = [&]() -> task<void> {
            auto [c, s] = co_await connected_pair();
            client.emplace(std::move(c));
            server.emplace(std::move(s));
            auto sent = co_await client->send_all(bytes_of("a"));
            EXPECT_TRUE(sent);
            auto first = co_await server->recv_pooled();
            EXPECT_TRUE(first);
            auto more = co_await client->send_all(bytes_of("queued"));
            EXPECT_TRUE(more);
            if (multishot()) {
                auto queued = co_await poll_until([] { return in_use() >= 2; });
                EXPECT_TRUE(queued);
            }
        };
        loop.run(body());
    }
    server.reset();
    client.reset();
}

TEST_P(PooledRecvTest, CancellingAWaitingCallLosesNoData) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        auto timed_out = co_await coil::with_timeout(server.recv_pooled(), 5ms);
        EXPECT_FALSE(timed_out);
        EXPECT_EQ(timed_out.error(), std::errc::timed_out);
        EXPECT_EQ(in_use(), 0u);
        auto sent = co_await client.send_all(bytes_of("after the cancel"));
        EXPECT_TRUE(sent);
        auto buf = co_await server.recv_pooled();
        EXPECT_TRUE(buf);
        EXPECT_EQ(text_of(buf.value().bytes()), "after the cancel");
    };
    run(body());
}

TEST_P(PooledRecvTest, ACallAlreadyCancelledDoesNotStart) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        coil::cancel_source source;
        source.request_cancel();
        auto reader = [](const tcp_stream& s) -> task<coil::result<coil::pooled_buffer>> {
            co_return co_await s.recv_pooled();
        };
        auto t = reader(server);
        t.set_cancel_token(source.token());
        auto r = co_await std::move(t);
        EXPECT_EQ(r.error(), std::errc::operation_canceled);
        EXPECT_EQ(coil::event_loop::current_or_throw().io_in_flight(), 0u);
    };
    run(body());
}

// A task destroyed while its stream's multishot has completions queued: they stay for the next
// call on the stream, in order; closing the stream then gives everything back.
TEST_P(PooledRecvTest, DestroyingTheTaskKeepsQueuedData) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        auto waiter = [](const tcp_stream& s) -> task<void> {
            auto first = co_await s.recv_pooled();
            EXPECT_TRUE(first);
            auto never = co_await s.recv_pooled();  // destroyed while waiting here (or queued)
            ADD_FAILURE() << "resumed after destruction";
        };
        {
            coil::task_group group;
            group.spawn(waiter(server));
            auto sent = co_await client.send_all(bytes_of("one"));
            EXPECT_TRUE(sent);
            co_await coil::sleep_for(2ms);
        }  // destroys the waiter mid-wait
        auto sent = co_await client.send_all(bytes_of("two"));
        EXPECT_TRUE(sent);
        auto more = co_await client.send_all(bytes_of("three"));
        EXPECT_TRUE(more);
        std::string got;
        auto err = co_await receive_all(server, 8, got);
        EXPECT_FALSE(err);
        EXPECT_EQ(got, "twothree");
        EXPECT_EQ(in_use(), 0u);
    };
    run(body());
}

// Destroying the stream with completions queued and the multishot armed: the fd closes once the
// multishot's last completion is in, and every buffer comes back.
TEST_P(PooledRecvTest, ClosingWithQueuedDataAndAnArmedMultishotGivesEverythingBack) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        auto sent = co_await client.send_all(bytes_of("x"));
        EXPECT_TRUE(sent);
        auto first = co_await server.recv_pooled();
        EXPECT_TRUE(first);
        first->reset();
        for (int i = 0; i < 3; ++i) {
            auto more = co_await client.send_all(bytes_of("queued"));
            EXPECT_TRUE(more);
            co_await coil::sleep_for(1ms);
        }
        const int fd = server.native_handle();
        server.close();
        auto settled = co_await poll_until([] {
            return coil::event_loop::current_or_throw().io_in_flight() == 0 && in_use() == 0;
        });
        EXPECT_TRUE(settled);
        EXPECT_FALSE(coil::testing::fd_is_open(fd));
    };
    run(body());
}

TEST_P(PooledRecvTest, ClosingTheStreamEndsAWaitingCallWithOperationCanceled) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        auto reader = [](const tcp_stream& s) -> task<std::error_code> {
            auto r = co_await s.recv_pooled();
            co_return r.error();
        };
        auto closer = [](tcp_stream& s) -> task<void> {
            co_await coil::sleep_for(2ms);
            s.close();
        };
        auto [err, ignored] = co_await coil::when_all(reader(server), closer(server));
        (void)ignored;
        EXPECT_EQ(err, std::errc::operation_canceled);
        auto settled = co_await poll_until([] {
            return coil::event_loop::current_or_throw().io_in_flight() == 0;
        });
        EXPECT_TRUE(settled);
        EXPECT_EQ(in_use(), 0u);
        auto after = co_await server.recv_pooled();
        EXPECT_EQ(after.error(), std::errc::bad_file_descriptor);
    };
    run(body());
}

TEST_P(PooledRecvTest, ASecondConcurrentCallIsRefused) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        auto first = [](const tcp_stream& s) -> task<std::string> {
            auto r = co_await s.recv_pooled();
            co_return r ? text_of(r->bytes()) : r.error().message();
        };
        auto second = [](tcp_stream& s, tcp_stream& c) -> task<void> {
            auto r = co_await s.recv_pooled();  // the first one is waiting
            EXPECT_EQ(r.error(), std::errc::operation_in_progress);
            auto sent = co_await c.send_all(bytes_of("for the first"));
            EXPECT_TRUE(sent);
        };
        auto [got, ignored] = co_await coil::when_all(first(server), second(server, client));
        (void)ignored;
        EXPECT_EQ(got, "for the first");
    };
    run(body());
}

// An idle connection holds no receive buffer, on either backend: 100 connections wait in
// recv_pooled, and no pool buffer is in use until data comes.
TEST_P(PooledRecvTest, IdleConnectionsHoldNoBuffer) {
    auto body = []() -> task<void> {
        constexpr int count = 100;
        auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0)).value();
        std::vector<tcp_stream> clients;
        std::vector<tcp_stream> servers;
        for (int i = 0; i < count; ++i) {
            auto [c, s] = co_await coil::when_all(coil::tcp_connect(listener.local_endpoint(), 5s),
                                                  listener.accept());
            clients.push_back(std::move(c).value());
            servers.push_back(std::move(s).value());
        }
        int received = 0;
        coil::task_group group;
        for (auto& s : servers) {
            group.spawn([](const tcp_stream& st, int& n) -> task<void> {
                auto r = co_await st.recv_pooled();
                if (r && text_of(r->bytes()) == "wake") ++n;
            }(s, received));
        }
        co_await coil::sleep_for(5ms);  // all of them are waiting now
        EXPECT_EQ(in_use(), 0u);
        EXPECT_EQ(received, 0);
        for (auto& c : clients) {
            auto sent = co_await c.send_all(bytes_of("wake"));
            EXPECT_TRUE(sent);
        }
        co_await group.join();
        EXPECT_EQ(received, count);
        EXPECT_EQ(in_use(), 0u);
    };
    run(body());
}

// io_uring's other path (as where the kernel has no buffer rings): readiness first, then a
// receive into a pool buffer. On epoll the option changes nothing.
TEST_P(PooledRecvTest, TheReadinessPathWorksWithoutTheBufferRing) {
    auto body = []() -> task<void> {
        EXPECT_FALSE(multishot());
        auto [client, server] = co_await connected_pair();
        auto waiter = [](const tcp_stream& s) -> task<std::string> {
            auto r = co_await s.recv_pooled();
            co_return r ? text_of(r->bytes()) : r.error().message();
        };
        auto sender = [](tcp_stream& c) -> task<void> {
            co_await coil::sleep_for(2ms);
            EXPECT_EQ(in_use(), 0u);  // waiting for readiness holds no buffer
            auto sent = co_await c.send_all(bytes_of("ready"));
            EXPECT_TRUE(sent);
        };
        auto [got, ignored] = co_await coil::when_all(waiter(server), sender(client));
        (void)ignored;
        EXPECT_EQ(got, "ready");
        EXPECT_EQ(in_use(), 0u);
        client.close();
        auto end = co_await server.recv_pooled();
        EXPECT_EQ(end.error(), coil::errc::eof);
    };
    coil::loop_options o = options();
    o.recv_multishot = false;
    coil::run(body(), o);
}

TEST_P(PooledRecvTest, TheBackendSaysWhichPathPooledReceivesTake) {
    auto body = [this]() -> task<void> {
        auto [client, server] = co_await connected_pair();
        auto sent = co_await client.send_all(bytes_of("?"));
        EXPECT_TRUE(sent);
        auto buf = co_await server.recv_pooled();
        EXPECT_TRUE(buf);
        // On this machine's kernel (6.x) io_uring has buffer rings and multishot recv.
        EXPECT_EQ(multishot(), backend() == coil::backend_kind::io_uring);
    };
    run(body());
}

TEST_P(PooledRecvTest, BadPoolOptionsAreRefused) {
    coil::loop_options o = options();
    o.recv_buffer_count = 40000;
    EXPECT_THROW(coil::event_loop{o}, std::invalid_argument);
    o.recv_buffer_count = 16;
    o.recv_buffer_size = (1u << 30) + 1;
    EXPECT_THROW(coil::event_loop{o}, std::invalid_argument);
    o.recv_buffer_size = 0;  // the backend's default
    EXPECT_NO_THROW(coil::event_loop{o});
}

// loop_options::recv_buffer_size 0 (the default) is 4 KiB on io_uring, 16 KiB on epoll: one
// receive with 20,000 bytes waiting yields exactly that much.
TEST_P(PooledRecvTest, TheDefaultBufferSizeIsTheBackends) {
    const std::size_t expected = backend() == coil::backend_kind::epoll ? 16384 : 4096;
    auto body = [&]() -> task<void> {
        auto [client, server] = co_await connected_pair();
        const std::string message(20'000, 'm');
        auto sent = co_await client.send_all(bytes_of(message));
        EXPECT_TRUE(sent);
        co_await coil::sleep_for(20ms);  // loopback: it is all in the receive queue by now
        auto buf = co_await server.recv_pooled();
        EXPECT_TRUE(buf);
        if (buf) {
            EXPECT_EQ(buf->size(), expected);
        }
    };
    run(body());
}

// Regression (coil-epoll made 3 syscalls per 4 KiB echo where the epoll baseline made 2): a
// 4 KiB message filled a 4 KiB pool buffer exactly, a full read cannot show the socket drained,
// so the next receive tried recv once more only to get EAGAIN. With the default buffer a 4 KiB
// message reads short, and the next receive waits without a syscall. (io_uring runs no
// operation syscalls at all: 0 there as well.)
TEST_P(PooledRecvTest, AFourKibMessageCostsOneRecvTheNextReceiveWaitsWithoutASyscall) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        const std::string message(4096, 'q');
        auto sent = co_await client.send_all(bytes_of(message));
        EXPECT_TRUE(sent);
        std::string got;
        const std::error_code received = co_await receive_all(server, message.size(), got);
        EXPECT_FALSE(received);
        auto& loop = coil::event_loop::current_or_throw();
        const std::uint64_t before = loop.stats().op_syscalls;
        auto next = co_await coil::with_timeout(server.recv_pooled(), 20ms);
        EXPECT_EQ(next.error(), std::errc::timed_out);
        EXPECT_EQ(loop.stats().op_syscalls - before, 0u) << "a receive tried recv on a drained socket";
    };
    run(body());
}

// ---- Adversarial review (issue 9): shapes of bugs other io_uring runtimes shipped ----

// One pooled receive bounded in time: a hang shows as timed_out, not as a stuck test.
task<coil::result<coil::pooled_buffer>> recv_within(const tcp_stream& s, std::chrono::milliseconds limit) {
    co_return co_await coil::with_timeout(s.recv_pooled(), limit);
}

// The peer sends and closes while nobody asks: on io_uring the data and the end of stream are
// both queued behind the armed multishot (res == 0 after the data). The calls return the data,
// then eof; and eof stays: a later call gets it again rather than waiting forever (the multishot
// that saw res == 0 ended; the next call must not wait on it).
TEST_P(PooledRecvTest, EndOfStreamQueuedBehindDataComesAfterItAndStays) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        auto sent = co_await client.send_all(bytes_of("x"));
        EXPECT_TRUE(sent);
        auto first = co_await server.recv_pooled();  // arms the multishot on io_uring
        EXPECT_TRUE(first);
        first->reset();
        auto more = co_await client.send_all(bytes_of("last words"));
        EXPECT_TRUE(more);
        client.close();
        if (multishot()) {
            auto queued = co_await poll_until([] { return in_use() >= 1; });
            EXPECT_TRUE(queued) << "the data was not queued for the stream";
        }
        std::string got;
        auto err = co_await receive_all(server, 10, got);
        EXPECT_FALSE(err);
        EXPECT_EQ(got, "last words");
        for (int i = 0; i < 3; ++i) {
            auto end = co_await recv_within(server, 2s);
            EXPECT_EQ(end.error(), coil::errc::eof) << "call " << i << ": " << end.error().message();
        }
        EXPECT_EQ(in_use(), 0u);
        EXPECT_EQ(coil::event_loop::current_or_throw().io_in_flight(), 0u);
    };
    run(body());
}

// A pool of one buffer, held by the application: the next receive finds the ring empty (io_uring:
// -ENOBUFS, the data stays in the socket) and must still get the bytes, and an end of stream
// behind them, rather than losing them or waiting for the held buffer.
TEST_P(PooledRecvTest, ARingHeldDryByTheApplicationStillDeliversDataAndEndOfStream) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        auto sent = co_await client.send_all(bytes_of("held"));
        EXPECT_TRUE(sent);
        auto held = co_await server.recv_pooled();  // the pool's only buffer, kept below
        EXPECT_EQ(text_of(held.value().bytes()), "held");
        auto more = co_await client.send_all(bytes_of("while dry"));
        EXPECT_TRUE(more);
        std::string got;
        while (got.size() < 9) {
            auto buf = co_await recv_within(server, 2s);
            EXPECT_TRUE(buf) << buf.error().message();
            if (!buf) break;
            got += text_of(buf->bytes());
        }
        EXPECT_EQ(got, "while dry");
        EXPECT_EQ(text_of(held->bytes()), "held");  // untouched by the receives meanwhile
        client.close();
        auto end = co_await recv_within(server, 2s);
        EXPECT_EQ(end.error(), coil::errc::eof) << end.error().message();
        held->reset();
        EXPECT_EQ(in_use(), 0u);
    };
    coil::run(body(), tiny_pool(1, 16));
}

// The ring runs dry while the multishot is armed and nobody waits (io_uring: it ends with
// -ENOBUFS, no waiter to hand that to). Once the buffer is back, the next call must re-arm and
// get the bytes that waited in the socket, in order.
TEST_P(PooledRecvTest, TheRingRunningDryWhileNobodyWaitsLosesNothing) {
    auto body = []() -> task<void> {
        auto [a_client, a_server] = co_await connected_pair();
        auto [b_client, b_server] = co_await connected_pair();
        auto s1 = co_await b_client.send_all(bytes_of("b0"));
        EXPECT_TRUE(s1);
        auto b0 = co_await b_server.recv_pooled();  // arms b's multishot on io_uring
        EXPECT_EQ(text_of(b0.value().bytes()), "b0");
        b0->reset();
        auto s2 = co_await a_client.send_all(bytes_of("a"));
        EXPECT_TRUE(s2);
        auto held = co_await a_server.recv_pooled();  // now the pool's only buffer is out
        EXPECT_TRUE(held);
        auto s3 = co_await b_client.send_all(bytes_of("b1"));
        EXPECT_TRUE(s3);
        co_await coil::sleep_for(5ms);  // b's multishot meets the empty ring, nobody waiting
        auto s4 = co_await b_client.send_all(bytes_of("b2"));
        EXPECT_TRUE(s4);
        held->reset();
        std::string got;
        while (got.size() < 4) {
            auto buf = co_await recv_within(b_server, 2s);
            EXPECT_TRUE(buf) << buf.error().message();
            if (!buf) break;
            got += text_of(buf->bytes());
        }
        EXPECT_EQ(got, "b1b2");
        EXPECT_EQ(in_use(), 0u);
    };
    coil::run(body(), tiny_pool(1, 16));
}

// The fd number of a closed stream comes back with the next socket. Completions of the old
// stream's multishot (queued data, its cancellation) must never reach the new stream: the old fd
// stays open until the last of them, so the number is reused only afterwards.
TEST_P(PooledRecvTest, AReusedFdNumberGetsOnlyItsOwnBytes) {
    auto body = []() -> task<void> {
        auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0)).value();
        auto [c1, s1] = co_await coil::when_all(coil::tcp_connect(listener.local_endpoint(), 5s),
                                                listener.accept());
        tcp_stream old_client = std::move(c1).value();
        tcp_stream old_server = std::move(s1).value();
        auto sent = co_await old_client.send_all(bytes_of("o"));
        EXPECT_TRUE(sent);
        auto first = co_await old_server.recv_pooled();
        EXPECT_TRUE(first);
        first->reset();
        for (int i = 0; i < 3; ++i) {  // queued (io_uring) or left in the socket (epoll)
            auto more = co_await old_client.send_all(bytes_of("OLD"));
            EXPECT_TRUE(more);
            co_await coil::sleep_for(1ms);
        }
        const int old_fd = old_server.native_handle();
        old_server.close();  // the multishot is cancelled; its last completion closes the fd
        auto settled = co_await poll_until([old_fd] { return !coil::testing::fd_is_open(old_fd); });
        EXPECT_TRUE(settled);
        auto [c2, s2] = co_await coil::when_all(coil::tcp_connect(listener.local_endpoint(), 5s),
                                                listener.accept());
        tcp_stream new_client = std::move(c2).value();  // its socket took the lowest free number
        tcp_stream new_server = std::move(s2).value();
        // The premise: the new stream has the old one's number (else this test proves nothing).
        EXPECT_EQ(new_client.native_handle(), old_fd);
        auto fresh = co_await new_server.send_all(bytes_of("new"));
        EXPECT_TRUE(fresh);
        std::string got;
        auto err = co_await receive_all(new_client, 3, got);
        EXPECT_FALSE(err);
        EXPECT_EQ(got, "new");
        new_server.close();
        auto end = co_await recv_within(new_client, 2s);
        EXPECT_EQ(end.error(), coil::errc::eof) << end.error().message();
        EXPECT_EQ(in_use(), 0u);
    };
    run(body());
}

// The loop's gauges after every way a pooled receive can end early: cancelled waits, a pause
// (queue full), a close with completions queued. They return to exactly 0: an unsigned gauge
// decremented once too often would show as a huge number, one never decremented as 1.
TEST_P(PooledRecvTest, GaugesReturnToZeroAfterCancelPauseAndClosePaths) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        for (int i = 0; i < 5; ++i) {
            auto r = co_await coil::with_timeout(server.recv_pooled(), 1ms);
            EXPECT_EQ(r.error(), std::errc::timed_out);
        }
        auto sent = co_await client.send_all(bytes_of("!"));
        EXPECT_TRUE(sent);
        auto first = co_await server.recv_pooled();
        EXPECT_TRUE(first);
        first->reset();
        (void)client.set_nodelay();
        for (int i = 0; i < 40; ++i) {  // past the queue's limit: the multishot pauses
            auto more = co_await client.send_all(bytes_of("m"));
            EXPECT_TRUE(more);
            co_await coil::sleep_for(1ms);
        }
        auto r = co_await coil::with_timeout(server.recv_pooled(), 1ms);  // takes one queued
        EXPECT_TRUE(r);
        if (r) r->reset();
        server.close();
        auto settled = co_await poll_until([] {
            return coil::event_loop::current_or_throw().io_in_flight() == 0 && in_use() == 0;
        });
        EXPECT_TRUE(settled);
        const coil::loop_stats st = coil::event_loop::current_or_throw().stats();
        EXPECT_EQ(st.ops_in_flight, 0u);
        EXPECT_EQ(st.pool_buffers_in_use, 0u);
    };
    run(body());
}

// Regression (issue 9 review): bytes received for a waiting call whose task was destroyed after
// they came and before it resumed (io_uring: the multishot delivered a buffer to it; epoll: the
// receive ran on readiness) went back to the pool with the bytes in them: the stream lost them,
// and the next call waited for bytes that had already come. Now the next call gets them first.
TEST_P(PooledRecvTest, BytesReceivedForATaskDestroyedBeforeItResumedGoToTheNextCall) {
    auto body = []() -> task<void> {
        auto [client, server] = co_await connected_pair();
        auto sent0 = co_await client.send_all(bytes_of("0"));
        EXPECT_TRUE(sent0);
        auto first = co_await server.recv_pooled();  // arms the multishot on io_uring
        EXPECT_TRUE(first);
        first->reset();
        auto waiter = [](const tcp_stream& s) -> task<void> {
            auto r = co_await s.recv_pooled();
            ADD_FAILURE() << "resumed: " << (r ? text_of(r->bytes()) : r.error().message());
        };
        {
            coil::task_group group;
            group.spawn(waiter(server));
            co_await coil::sleep_for(2ms);  // it waits now
            // Straight to the socket, not through the loop: the bytes are there before this
            // task yields, so the loop receives them for the waiter and queues it behind us.
            const char precious[] = "precious";
            EXPECT_EQ(::send(client.native_handle(), precious, 8, MSG_NOSIGNAL), 8);
            co_await coil::yield();
            // The premise: a buffer holds the bytes for the waiter, which has not resumed.
            EXPECT_EQ(in_use(), 1u);
        }  // destroys the waiter
        auto r = co_await recv_within(server, 300ms);
        EXPECT_TRUE(r) << r.error().message();
        if (r) {
            EXPECT_EQ(text_of(r->bytes()), "precious");
        }
        if (r) r->reset();
        client.close();
        auto end = co_await recv_within(server, 2s);
        EXPECT_EQ(end.error(), coil::errc::eof) << end.error().message();
        EXPECT_EQ(in_use(), 0u);
    };
    run(body());
}

}  // namespace

COIL_INSTANTIATE_BACKEND_TEST(PooledRecvTest);
