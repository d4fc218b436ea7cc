#include "coil/net/resolve.hpp"

#include <gtest/gtest.h>
#include <netdb.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include "coil/net/tcp_connect.hpp"
#include "coil/net/tcp_listener.hpp"
#include "coil/net/tcp_stream.hpp"
#include "coil/runtime/sleep.hpp"
#include "coil/runtime/task_group.hpp"
#include "coil/runtime/thread_pool.hpp"
#include "support/backend_test.hpp"

namespace {

using namespace std::chrono_literals;
using coil::ip_endpoint;
using coil::task;

class ResolveTest : public coil::testing::BackendTest {};

TEST_P(ResolveTest, LocalhostGivesLoopbackAddresses) {
    run([]() -> task<void> {
        auto r = co_await coil::resolve("localhost", "8080");
        EXPECT_TRUE(r.has_value()) << r.error().message();
        if (!r) co_return;
        EXPECT_FALSE(r->empty());
        for (const ip_endpoint& ep : *r) {
            EXPECT_TRUE(ep == ip_endpoint::loopback_v4(8080) || ep == ip_endpoint::loopback_v6(8080))
                << ep.to_string();
        }
    }());
}

TEST_P(ResolveTest, ServiceNameIsLookedUp) {
    run([]() -> task<void> {
        auto r = co_await coil::resolve("127.0.0.1", "http");  // /etc/services: 80/tcp
        EXPECT_TRUE(r.has_value()) << r.error().message();
        if (!r) co_return;
        EXPECT_EQ(*r, std::vector<ip_endpoint>{ip_endpoint::loopback_v4(80)});
    }());
}

// A literal is converted on the loop thread: it resolves even with a stopped pool, which would
// end any lookup with operation_canceled.
TEST_P(ResolveTest, NumericAddressNeedsNoLookup) {
    coil::thread_pool stopped({.threads = 1});
    stopped.stop();
    run([&]() -> task<void> {
        auto v4 = co_await coil::resolve("127.0.0.1", "80", stopped);
        EXPECT_TRUE(v4.has_value());
        if (!v4) co_return;
        EXPECT_EQ(*v4, std::vector<ip_endpoint>{ip_endpoint::loopback_v4(80)});
        auto v6 = co_await coil::resolve("::1", "443", stopped);
        EXPECT_TRUE(v6.has_value());
        if (!v6) co_return;
        EXPECT_EQ(*v6, std::vector<ip_endpoint>{ip_endpoint::loopback_v6(443)});
        // A name does need the pool: proof that the two above did not use it.
        auto named = co_await coil::resolve("localhost", "80", stopped);
        EXPECT_EQ(named.error(), std::errc::operation_canceled);
    }());
}

// RFC 6761 §6.4: ".invalid" names never resolve, so no network is needed to see the failure.
TEST_P(ResolveTest, NameThatDoesNotExistIsAClearError) {
    run([]() -> task<void> {
        auto r = co_await coil::resolve("no-such-host.invalid", "80");
        EXPECT_FALSE(r.has_value());
        if (r) co_return;
        const std::error_code ec = r.error();
        EXPECT_EQ(&ec.category(), &coil::resolve_category());
        // No name server reachable is EAI_AGAIN; one that answers says EAI_NONAME.
        EXPECT_TRUE(ec == coil::resolve_errc::host_not_found || ec == coil::resolve_errc::try_again ||
                    ec == coil::resolve_errc::no_address)
            << ec.value() << " " << ec.message();
        EXPECT_EQ(ec.message(), std::string(::gai_strerror(ec.value())));
        EXPECT_STREQ(ec.category().name(), "getaddrinfo");
    }());
}

TEST_P(ResolveTest, NulByteIsInvalidArgument) {
    run([]() -> task<void> {
        auto r = co_await coil::resolve(std::string("local\0host", 10), "80");
        EXPECT_EQ(r.error(), std::errc::invalid_argument);
    }());
}

// glibc's getaddrinfo reads a numeric service with strtoul and keeps its low 16 bits: "70000"
// would give port 4464 and "-1" port 65535, so a typo connects somewhere else. A service that is
// a number is a port, 0 .. 65535, or invalid_argument; on a name and on an address literal alike.
TEST_P(ResolveTest, NumericPortOutOfRangeIsRefusedNotWrapped) {
    run([]() -> task<void> {
        for (const char* host : {"127.0.0.1", "localhost"}) {
            for (const char* service : {"70000", "65536", "-1", "+80", " 80", "99999999999999999999"}) {
                auto r = co_await coil::resolve(host, service);
                EXPECT_FALSE(r.has_value()) << host << " '" << service << "' gave "
                                            << (r ? r->front().to_string() : "");
                if (!r) {
                    EXPECT_EQ(r.error(), std::errc::invalid_argument) << host << " '" << service << "'";
                }
            }
            auto top = co_await coil::resolve(host, "65535");
            EXPECT_TRUE(top.has_value()) << host;
            if (top) {
                EXPECT_EQ(top->front().port(), 65535) << host;
            }
        }
        // A service name that starts with a digit is still a name (/etc/services: 9pfs 564/tcp).
        auto named = co_await coil::resolve("127.0.0.1", "9pfs");
        if (named) {
            EXPECT_EQ(named->front().port(), 564);
        } else {
            EXPECT_EQ(named.error(), coil::resolve_errc::service_not_found);  // not in this services file
        }
    }());
}

// Holds the pool's only thread, so that a lookup stays queued.
struct gate {
    std::mutex mutex;
    std::condition_variable cv;
    bool open = false;
    bool wait() {
        std::unique_lock lock(mutex);
        return cv.wait_for(lock, 20s, [&] { return open; });
    }
    void release() {
        {
            std::lock_guard lock(mutex);
            open = true;
        }
        cv.notify_all();
    }
};

TEST_P(ResolveTest, CancelledResolveEndsWithOperationCanceled) {
    coil::thread_pool pool({.threads = 1});
    gate held;
    run([&]() -> task<void> {
        coil::task_group blocker(co_await coil::current_cancel_token());
        blocker.spawn([](coil::thread_pool& p, gate& g) -> task<void> {
            (void)co_await p.run([&] { return g.wait(); });
        }(pool, held));
        coil::task_group lookups(co_await coil::current_cancel_token());
        coil::result<std::vector<ip_endpoint>> out = std::vector<ip_endpoint>{};
        lookups.spawn([](coil::thread_pool& p, coil::result<std::vector<ip_endpoint>>& o) -> task<void> {
            o = co_await coil::resolve("localhost", "80", p);
        }(pool, out));
        for (int i = 0; i < 20'000 && pool.queued() + pool.waiting() == 0; ++i) {
            co_await coil::sleep_for(1ms);
        }
        lookups.cancel();
        co_await lookups.join();  // while the pool's only thread is still held
        EXPECT_FALSE(out.has_value());
        if (!out) {
            EXPECT_EQ(out.error(), std::errc::operation_canceled);
        }
        held.release();
        co_await blocker.join();
    }());
}

TEST_P(ResolveTest, ConnectByNameReachesALoopbackListener) {
    run([]() -> task<void> {
        auto listener = coil::tcp_listener::bind(ip_endpoint::loopback_v4(0));
        EXPECT_TRUE(listener.has_value());
        if (!listener) co_return;
        const std::uint16_t port = listener->local_endpoint().port();
        coil::task_group group(co_await coil::current_cancel_token());
        group.spawn([](coil::tcp_listener& l) -> task<void> {
            auto conn = co_await l.accept();
            EXPECT_TRUE(conn.has_value());
            if (!conn) co_return;
            std::array<std::byte, 1> b{std::byte{'!'}};
            (void)co_await conn->send_all(b);
        }(*listener));
        // "localhost" may list ::1 first: nothing listens there, so that attempt is refused and
        // the next address is tried.
        auto stream = co_await coil::tcp_connect("localhost", port, 10s);
        EXPECT_TRUE(stream.has_value()) << stream.error().message();
        if (!stream) co_return;
        std::array<std::byte, 1> got{};
        auto n = co_await stream->recv(got);
        EXPECT_TRUE(n.has_value());
        EXPECT_EQ(got[0], std::byte{'!'});
        co_await group.join();
    }());
}

TEST_P(ResolveTest, ConnectByUnknownNameReportsTheResolveError) {
    run([]() -> task<void> {
        auto stream = co_await coil::tcp_connect("no-such-host.invalid", 80, 10s);
        EXPECT_FALSE(stream.has_value());
        if (!stream) {
            EXPECT_EQ(&stream.error().category(), &coil::resolve_category());
        }
    }());
}

COIL_INSTANTIATE_BACKEND_TEST(ResolveTest);

}  // namespace
