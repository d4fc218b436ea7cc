// The hand-written baseline echo servers (bench/baselines), run as child processes and driven by
// coil clients: they must echo byte-exactly (pipelined too), serve many connections at once and
// stop cleanly on SIGTERM, or the benchmark's reference figures mean nothing. In the ASan build
// the servers are sanitized too, so a leak or a bad access shows as a non-zero exit.
#include <gtest/gtest.h>
#include <signal.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "coil/net/tcp_connect.hpp"
#include "coil/runtime.hpp"
#include "support/child_process.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;
using coil::testing::child_process;

// The server programs, from the environment meson sets (an empty path: not built here).
struct server_kind {
    const char* name;
    const char* env;
};
const server_kind kServers[] = {{"epoll", "COIL_BASELINE_EPOLL"}, {"uring", "COIL_BASELINE_URING"}};

std::vector<std::byte> pattern(std::size_t size, unsigned seed) {
    std::vector<std::byte> out(size);
    for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::byte>((i * 7 + seed * 13 + i / 251) & 0xff);
    return out;
}

class BaselineTest : public ::testing::TestWithParam<server_kind> {
protected:
    std::string path() const {
        const char* p = std::getenv(GetParam().env);
        return p ? p : "";
    }
    // Starts the server with `extra` arguments; returns its port (0 if it did not start).
    unsigned short start(std::vector<std::string> extra = {}) {
        if (path().empty()) return 0;
        std::vector<std::string> argv{path(), "--port", "0"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        server_.emplace(argv);
        auto line = server_->read_line(10s);
        if (!line) return 0;
        return coil::testing::port_of_listening_line(*line);
    }
    void SetUp() override {
        if (path().empty()) GTEST_SKIP() << GetParam().name << " baseline not built (no io_uring)";
    }
    std::optional<int> stop() { return server_->stop(SIGTERM, 10s); }

    std::optional<child_process> server_;
};

// One connection: `count` messages of varying sizes (1..max_size), either one at a time
// (ping-pong) or all sent at once while the echoes are read concurrently (pipelined). True if
// every byte came back in order.
task<bool> exchange(unsigned short port, unsigned seed, int count, std::size_t max_size, bool pipelined) {
    auto s = co_await coil::tcp_connect(coil::ip_endpoint::loopback_v4(port), 5s);
    if (!s) co_return false;
    std::vector<std::vector<std::byte>> messages;
    std::size_t total = 0;
    for (int i = 0; i < count; ++i) {
        messages.push_back(pattern(1 + (seed * 31 + static_cast<unsigned>(i) * 977) % max_size, seed + i));
        total += messages.back().size();
    }
    if (!pipelined) {
        for (const auto& m : messages) {
            std::vector<std::byte> back(m.size());
            auto sent = co_await s->send_all(m);
            auto got = co_await coil::with_timeout(s->recv_exact(back), 10s);
            if (!sent || !got || back != m) co_return false;
        }
        co_return true;
    }
    std::vector<std::byte> all;
    all.reserve(total);
    for (const auto& m : messages) all.insert(all.end(), m.begin(), m.end());
    auto send_each = [](coil::tcp_stream& st, const std::vector<std::vector<std::byte>>& ms) -> task<bool> {
        for (const auto& m : ms) {
            auto r = co_await st.send_all(m);
            if (!r) co_return false;
        }
        co_return true;
    };
    std::vector<std::byte> back(total);
    auto [sent, got] = co_await coil::when_all(send_each(*s, messages),
                                               coil::with_timeout(s->recv_exact(back), 20s));
    co_return sent && got && back == all;
}

task<int> many(unsigned short port, unsigned clients, int count, std::size_t max_size, bool pipelined) {
    std::vector<task<bool>> ts;
    for (unsigned i = 0; i < clients; ++i) ts.push_back(exchange(port, i, count, max_size, pipelined));
    auto results = co_await coil::when_all(std::move(ts));
    int ok = 0;
    for (bool r : results) ok += r ? 1 : 0;
    co_return ok;
}

TEST_P(BaselineTest, EchoesPingPongMessagesExactly) {
    const auto port = start();
    ASSERT_NE(port, 0);
    EXPECT_TRUE(coil::run(exchange(port, 1, 50, 5000, false)));
    EXPECT_EQ(stop(), 0);
}

TEST_P(BaselineTest, EchoesPipelinedMessagesInOrder) {
    // 500 messages of 1..3000 bytes sent back to back: the server holds several at once and
    // must send them back in the order they came.
    const auto port = start();
    ASSERT_NE(port, 0);
    EXPECT_EQ(coil::run(many(port, 8, 500, 3000, true)), 8);
    EXPECT_EQ(stop(), 0);
}

TEST_P(BaselineTest, ServesAHundredConcurrentConnections) {
    const auto port = start();
    ASSERT_NE(port, 0);
    EXPECT_EQ(coil::run(many(port, 100, 20, 4096, false)), 100);
    EXPECT_EQ(coil::run(many(port, 100, 50, 200, true)), 100);
    EXPECT_EQ(stop(), 0);
}

// 8 MiB to a client that reads nothing for 300 ms: the server's sends stall (partial sends, a
// backlog; baseline_uring pauses its multishot recv and re-arms it as the queue drains).
task<bool> late_reader_exchange(unsigned short p) {
    auto s = co_await coil::tcp_connect(coil::ip_endpoint::loopback_v4(p), 5s);
    if (!s) co_return false;
    auto message = pattern(8 << 20, 3);
    std::vector<std::byte> back(message.size());
    auto late_reader = [](coil::tcp_stream& st, std::vector<std::byte>& into) -> task<bool> {
        auto slept = co_await coil::sleep_for(300ms);
        (void)slept;
        auto r = co_await coil::with_timeout(st.recv_exact(into), 20s);
        co_return r.has_value();
    };
    auto [sent, got] = co_await coil::when_all(s->send_all(message), late_reader(*s, back));
    co_return sent && got && back == message;
}

// The value of `key=` in the --stats line baseline_uring prints at exit, or -1.
long stat_at_exit(child_process& server, const std::string& key) {
    long value = -1;
    while (auto l = server.read_line(2s)) {
        if (const auto at = l->find(key + "="); at != std::string::npos) {
            value = std::atol(l->c_str() + at + key.size() + 1);
        }
    }
    return value;
}

TEST_P(BaselineTest, EchoesAnEightMiBMessageToAPeerThatReadsLate) {
    const auto port = start();
    ASSERT_NE(port, 0);
    EXPECT_TRUE(coil::run(late_reader_exchange(port)));
    EXPECT_EQ(stop(), 0);
}

TEST_P(BaselineTest, HalfClosedClientGetsItsFullEchoThenEof) {
    const auto port = start();
    ASSERT_NE(port, 0);
    auto body = [](unsigned short p) -> task<bool> {
        auto s = co_await coil::tcp_connect(coil::ip_endpoint::loopback_v4(p), 5s);
        if (!s) co_return false;
        auto message = pattern(200'000, 11);
        auto sent = co_await s->send_all(message);
        if (!sent) co_return false;
        (void)s->shutdown(coil::shutdown_how::write);
        std::vector<std::byte> back(message.size());
        auto got = co_await coil::with_timeout(s->recv_exact(back), 10s);
        if (!got || back != message) co_return false;
        std::array<std::byte, 1> more{};
        auto end = co_await coil::with_timeout(s->recv(more), 10s);
        co_return !end && end.error() == coil::errc::eof;
    };
    EXPECT_TRUE(coil::run(body(port)));
    EXPECT_EQ(stop(), 0);
}

TEST_P(BaselineTest, StopsOnSigtermWithExitZeroClosingConnections) {
    const auto port = start();
    ASSERT_NE(port, 0);
    const pid_t pid = server_->pid();
    auto body = [pid](unsigned short p) -> task<bool> {
        auto s = co_await coil::tcp_connect(coil::ip_endpoint::loopback_v4(p), 5s);
        if (!s) co_return false;
        std::array<std::byte, 1> one{std::byte{7}};
        auto sent = co_await s->send_all(one);
        auto echoed = co_await coil::with_timeout(s->recv_exact(one), 5s);
        if (!sent || !echoed) co_return false;  // accepted and serving
        ::kill(pid, SIGTERM);
        std::array<std::byte, 1> buf{};
        auto r = co_await coil::with_timeout(s->recv(buf), 5s);
        co_return !r && r.error() == coil::errc::eof;
    };
    EXPECT_TRUE(coil::run(body(port)));
    EXPECT_EQ(server_->wait(10s), 0);
}

INSTANTIATE_TEST_SUITE_P(Baselines, BaselineTest, ::testing::ValuesIn(kServers),
                         [](const ::testing::TestParamInfo<server_kind>& p) { return std::string(p.param.name); });

// baseline_uring with 4 receive buffers of 1 KiB for 40 pipelining connections: the buffer ring
// runs dry over and over (-ENOBUFS ends the multishot recvs), and every byte must still come
// back on every connection.
TEST(BaselineUringTest, EchoesEverythingWhenTheBufferRingRunsDry) {
    const char* path = std::getenv("COIL_BASELINE_URING");
    if (!path || !*path) GTEST_SKIP() << "uring baseline not built (no io_uring)";
    child_process server({path, "--port", "0", "--buffers", "4", "--buffer-size", "1024", "--stats"});
    auto line = server.read_line(10s);
    ASSERT_TRUE(line);
    const auto port = coil::testing::port_of_listening_line(*line);
    ASSERT_NE(port, 0);
    EXPECT_EQ(coil::run(many(port, 40, 100, 2000, true)), 40);
    EXPECT_EQ(server.stop(SIGTERM, 10s), 0);
    // The premise: the ring did run dry (--stats prints the counters at exit).
    EXPECT_GT(stat_at_exit(server, "enobufs"), 0) << "no -ENOBUFS: the test did not exercise an empty ring";
}

// A peer that does not read: past 16 queued buffers the multishot recv is cancelled, and armed
// again once the queue has drained; no byte is lost or reordered.
TEST(BaselineUringTest, PausesAndResumesItsRecvForAPeerThatReadsLate) {
    const char* path = std::getenv("COIL_BASELINE_URING");
    if (!path || !*path) GTEST_SKIP() << "uring baseline not built (no io_uring)";
    child_process server({path, "--port", "0", "--stats"});
    auto line = server.read_line(10s);
    ASSERT_TRUE(line);
    const auto port = coil::testing::port_of_listening_line(*line);
    ASSERT_NE(port, 0);
    EXPECT_TRUE(coil::run(late_reader_exchange(port)));
    EXPECT_EQ(server.stop(SIGTERM, 10s), 0);
    EXPECT_GT(stat_at_exit(server, "pauses"), 0) << "the recv was never paused: the premise failed";
}

TEST(BaselineUringTest, HelpExitsZeroAndBadFlagsExitTwo) {
    const char* path = std::getenv("COIL_BASELINE_URING");
    if (!path || !*path) GTEST_SKIP() << "uring baseline not built (no io_uring)";
    child_process help({path, "--help"});
    auto first = help.read_line(5s);
    ASSERT_TRUE(first);
    EXPECT_NE(first->find("usage"), std::string::npos);
    EXPECT_EQ(help.wait(5s), 0);
    child_process bad({path, "--port", "99999"});
    EXPECT_EQ(bad.wait(5s), 2);
    child_process none({path, "--buffers", "0"});
    EXPECT_EQ(none.wait(5s), 2);
    child_process unknown({path, "--frobnicate"});
    EXPECT_EQ(unknown.wait(5s), 2);
}

}  // namespace
