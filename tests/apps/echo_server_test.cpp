// The echo server program, run as a child process on each backend and driven by coil clients.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "coil/net/tcp_connect.hpp"
#include "coil/runtime.hpp"
#include "support/backend_test.hpp"
#include "support/child_process.hpp"
#include "support/thread_signal_masks.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;
using coil::testing::child_process;

std::string server_path() {
    const char* path = std::getenv("COIL_ECHO_SERVER");
    return path ? path : "apps/echo_server";
}

class EchoServerTest : public coil::testing::BackendTest {
protected:
    // Starts the server on this test's backend and returns its port (0 if it did not start).
    unsigned short start(coil::testing::child_limits limits = {}, std::string bind = "127.0.0.1",
                         const std::vector<std::string>& extra = {}) {
        std::vector<std::string> argv{server_path(), "--port", "0", "--bind", bind, "--backend",
                                      std::string(coil::to_string(backend()))};
        argv.insert(argv.end(), extra.begin(), extra.end());
        server_.emplace(std::move(argv), limits);
        // With stderr merged, the log's backend line may come first.
        for (int i = 0; i < 10; ++i) {
            auto line = server_->read_line(10s);
            if (!line) break;
            if (const auto port = coil::testing::port_of_listening_line(*line); port != 0) return port;
        }
        ADD_FAILURE() << "the server printed no 'listening on' line";
        return 0;
    }
    std::optional<int> stop(int signo = SIGTERM) { return server_->stop(signo, 10s); }
    void TearDown() override {
        server_.reset();  // its stdout pipe is ours; release it before the fd-leak check
        BackendTest::TearDown();
    }

    std::optional<child_process> server_;
};

std::vector<std::byte> pattern(std::size_t size, unsigned seed) {
    std::vector<std::byte> out(size);
    for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::byte>((i * 7 + seed) & 0xff);
    return out;
}

// Connects, sends `message`, and checks that exactly it comes back.
task<bool> round_trip(unsigned short port, std::vector<std::byte> message) {
    auto s = co_await coil::tcp_connect(coil::ip_endpoint::loopback_v4(port), 5s);
    if (!s) co_return false;
    std::vector<std::byte> back(message.size());
    auto [sent, got] = co_await coil::when_all(s->send_all(message), s->recv_exact(back));
    co_return sent && got && back == message;
}

// `count` clients at once, each a round trip of `size` bytes: how many got their echo.
task<int> concurrent_round_trips(unsigned short port, unsigned count, std::size_t size) {
    std::vector<task<bool>> clients;
    for (unsigned i = 0; i < count; ++i) clients.push_back(round_trip(port, pattern(size, i)));
    auto results = co_await coil::when_all(std::move(clients));
    int ok = 0;
    for (bool r : results) ok += r ? 1 : 0;
    co_return ok;
}

// After a --threads run has stopped: the counts of its 'loop I accepted C connections' lines, in
// loop order (a line out of order is a failure).
std::vector<unsigned> read_per_loop_counts(child_process& server) {
    std::vector<unsigned> per_loop;
    while (auto line = server.read_line(5s)) {
        unsigned loop = 0, count = 0;
        if (std::sscanf(line->c_str(), "loop %u accepted %u connections", &loop, &count) == 2) {
            EXPECT_EQ(loop, per_loop.size());
            per_loop.push_back(count);
        }
    }
    return per_loop;
}

TEST_P(EchoServerTest, EchoesWhatItReceives) {
    const auto port = start();
    ASSERT_NE(port, 0);
    EXPECT_TRUE(run(round_trip(port, pattern(100, 1))));
    EXPECT_EQ(stop(), 0);
}

// --recv plain keeps the caller-buffer recv(span) path, for comparison with the pooled default.
TEST_P(EchoServerTest, EchoesWithThePlainReceivePathToo) {
    const auto port = start({}, "127.0.0.1", {"--recv", "plain"});
    ASSERT_NE(port, 0);
    EXPECT_TRUE(run(round_trip(port, pattern(100, 1))));
    EXPECT_TRUE(run(round_trip(port, pattern(1 << 20, 2))));
    EXPECT_EQ(stop(), 0);
}

TEST_P(EchoServerTest, ServesAThousandConcurrentClients) {
    const auto port = start();
    ASSERT_NE(port, 0);
    EXPECT_EQ(run(concurrent_round_trips(port, 1000, 64)), 1000);
    EXPECT_EQ(stop(), 0);
}

TEST_P(EchoServerTest, EchoesAnEightMiBMessage) {
    const auto port = start();
    ASSERT_NE(port, 0);
    EXPECT_TRUE(run(round_trip(port, pattern(8 << 20, 3))));
    EXPECT_EQ(stop(), 0);
}

TEST_P(EchoServerTest, SurvivesAPeerResetMidStream) {
    const auto port = start();
    ASSERT_NE(port, 0);
    auto body = [](unsigned short p) -> task<bool> {
        for (int i = 0; i < 20; ++i) {
            auto s = co_await coil::tcp_connect(coil::ip_endpoint::loopback_v4(p), 5s);
            if (!s) co_return false;
            auto big = pattern(1 << 20, 5);
            (void)co_await s->send(big);  // the server is busy echoing this when we reset
            linger abort_on_close{1, 0};
            ::setsockopt(s->native_handle(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
        }
        co_return co_await round_trip(p, pattern(64, 9));  // still serving
    };
    EXPECT_TRUE(run(body(port)));
    EXPECT_EQ(stop(), 0);
}

TEST_P(EchoServerTest, HalfClosedClientGetsItsFullEchoThenEof) {
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
        auto got = co_await s->recv_exact(back);
        if (!got || back != message) co_return false;
        std::array<std::byte, 1> more{};
        auto end = co_await s->recv(more);
        co_return end.error() == coil::errc::eof;
    };
    EXPECT_TRUE(run(body(port)));
    EXPECT_EQ(stop(), 0);
}

TEST_P(EchoServerTest, KeepsServingWhenItRunsOutOfFileDescriptors) {
    // 24 fds in all: the server's own (std streams, loop, listener, signalfd...) leave room for
    // only some of the 40 clients at once. The others wait in the backlog while accept fails
    // with EMFILE; the server must back off, keep serving, and pick them up as fds free up.
    const auto port = start({.max_open_files = 24, .merge_stderr = true});
    ASSERT_NE(port, 0);
    auto body = [](unsigned short p) -> task<int> {
        std::vector<coil::tcp_stream> held;
        int served = 0;
        for (unsigned i = 0; i < 40; ++i) {
            auto s = co_await coil::tcp_connect(coil::ip_endpoint::loopback_v4(p), 5s);
            if (s) held.push_back(std::move(*s));
        }
        // Exchange on each in turn, closing each after its echo to free a server fd.
        for (unsigned i = 0; i < held.size(); ++i) {
            auto message = pattern(32, i);
            std::vector<std::byte> back(message.size());
            auto sent = co_await held[i].send_all(message);
            if (!sent) continue;
            auto got = co_await coil::with_timeout(held[i].recv_exact(back), 5s);
            if (got && back == message) ++served;
            held[i].close();
        }
        co_return served;
    };
    EXPECT_EQ(run(body(port)), 40);
    EXPECT_EQ(stop(), 0) << "the server died or hung";
    // The premise: the server really ran out of fds (it reports the first accept error at once).
    bool saw_emfile = false;
    while (auto line = server_->read_line(2s)) {
        if (line->find("accept failed: " + std::make_error_code(std::errc::too_many_files_open).message()) !=
            std::string::npos) {
            saw_emfile = true;
        }
    }
    EXPECT_TRUE(saw_emfile) << "accept never failed with EMFILE: the test did not test the back-off";
}

TEST_P(EchoServerTest, ListensOnIpv6Loopback) {
    const auto port = start({}, "::1");
    if (port == 0) GTEST_SKIP() << "IPv6 loopback unavailable";
    auto body = [](unsigned short p) -> task<bool> {
        auto s = co_await coil::tcp_connect(coil::ip_endpoint::loopback_v6(p), 5s);
        if (!s) co_return false;
        auto message = pattern(10, 2);
        std::vector<std::byte> back(message.size());
        auto sent = co_await s->send_all(message);
        auto got = co_await s->recv_exact(back);
        co_return sent && got && back == message;
    };
    EXPECT_TRUE(run(body(port)));
    EXPECT_EQ(stop(), 0);
}

TEST_P(EchoServerTest, StopsWithExitZeroOnSigintClosingConnections) {
    const auto port = start();
    ASSERT_NE(port, 0);
    auto body = [&](unsigned short p) -> task<bool> {
        auto s = co_await coil::tcp_connect(coil::ip_endpoint::loopback_v4(p), 5s);
        if (!s) co_return false;
        // One echo first: the server has accepted us (a connection still in the backlog would
        // be reset with the listener, which says nothing about closing connections).
        std::array<std::byte, 1> one{std::byte{7}};
        auto sent = co_await s->send_all(one);
        auto echoed = co_await coil::with_timeout(s->recv_exact(one), 5s);
        if (!sent || !echoed) co_return false;
        ::kill(server_->pid(), SIGINT);
        std::array<std::byte, 1> buf{};
        auto r = co_await coil::with_timeout(s->recv(buf), 5s);
        co_return r.error() == coil::errc::eof;  // the server closed our connection on its way out
    };
    EXPECT_TRUE(run(body(port)));
    EXPECT_EQ(server_->wait(10s), 0);
}

// The counters line: "echo_server: stats key=value key=value ..." (runtime/loop_stats.hpp).
using stats_map = std::map<std::string, unsigned long long>;

stats_map parse_stats(const std::string& line) {
    const std::string prefix = "echo_server: stats ";
    stats_map out;
    if (line.rfind(prefix, 0) != 0) return out;
    std::istringstream fields(line.substr(prefix.size()));
    std::string field;
    while (fields >> field) {
        const auto eq = field.find('=');
        if (eq == std::string::npos || eq == 0) return {};
        out[field.substr(0, eq)] = std::stoull(field.substr(eq + 1));
    }
    return out;
}

// The next counters line the server prints; empty if none comes within the timeout.
stats_map next_stats(child_process& server) {
    while (auto line = server.read_line(5s)) {
        if (auto stats = parse_stats(*line); !stats.empty()) return stats;
    }
    return {};
}

const std::vector<std::string> stats_keys = {
    "kernel_enters", "op_syscalls", "ctl_syscalls",  "sqes_submitted", "submits",
    "completions",   "reaps",       "ops_in_flight", "tasks_alive",    "timers_armed",
    "pool_buffers_in_use"};

void expect_all_keys(const stats_map& stats) {
    EXPECT_EQ(stats.size(), stats_keys.size());
    for (const auto& key : stats_keys) EXPECT_TRUE(stats.contains(key)) << key;
}

TEST_P(EchoServerTest, StatsFlagPrintsTheLoopCountersAtExit) {
    const auto port = start({.max_open_files = std::nullopt, .merge_stderr = true}, "127.0.0.1", {"--stats"});
    ASSERT_NE(port, 0);
    EXPECT_TRUE(run(round_trip(port, pattern(100, 1))));
    EXPECT_EQ(stop(), 0);
    stats_map stats = next_stats(*server_);
    ASSERT_FALSE(stats.empty()) << "no 'echo_server: stats' line at exit";
    expect_all_keys(stats);
    // At exit everything has finished.
    EXPECT_EQ(stats["ops_in_flight"], 0u);
    EXPECT_EQ(stats["tasks_alive"], 0u);
    EXPECT_EQ(stats["pool_buffers_in_use"], 0u);
    // The server waited for its client at least once, and reaped what woke it.
    EXPECT_GE(stats["kernel_enters"], 1u);
    EXPECT_GE(stats["completions"], 1u);
    EXPECT_GE(stats["completions"], stats["reaps"]);
    if (backend() == coil::backend_kind::epoll) {
        // accept4 (the connection, then EAGAIN), recv and send at least.
        EXPECT_GE(stats["op_syscalls"], 4u);
        EXPECT_EQ(stats["sqes_submitted"], 0u);
        EXPECT_EQ(stats["submits"], 0u);
    } else {
        // The accept, the recv and the send at least, each one SQE.
        EXPECT_GE(stats["sqes_submitted"], 3u);
        EXPECT_GE(stats["submits"], 1u);
        EXPECT_GE(stats["sqes_submitted"], stats["submits"]);
        EXPECT_GE(stats["kernel_enters"], stats["submits"]);
        EXPECT_EQ(stats["op_syscalls"], 0u);
    }
}

TEST_P(EchoServerTest, Sigusr1PrintsTheCountersAndTheServerKeepsServing) {
    const auto port = start({.max_open_files = std::nullopt, .merge_stderr = true});
    ASSERT_NE(port, 0);
    EXPECT_TRUE(run(round_trip(port, pattern(100, 1))));
    ASSERT_EQ(::kill(server_->pid(), SIGUSR1), 0);
    stats_map stats = next_stats(*server_);
    ASSERT_FALSE(stats.empty()) << "no 'echo_server: stats' line after SIGUSR1";
    expect_all_keys(stats);
    // While running: at least the accept and the SIGINT/SIGTERM read wait.
    EXPECT_GE(stats["ops_in_flight"], 2u);
    EXPECT_GE(stats["kernel_enters"], 1u);
    EXPECT_TRUE(run(round_trip(port, pattern(100, 2))));
    EXPECT_EQ(stop(), 0);
    // Without --stats, no counters at exit.
    while (auto line = server_->read_line(2s)) EXPECT_TRUE(parse_stats(*line).empty()) << *line;
}

// --threads 2: two loops, each with its own SO_REUSEPORT listener on the one port. 50 clients
// connected at once all get their echo; the kernel spreads them over both listeners (by 4-tuple
// hash: all 50 on one of two listeners has odds of 2^-49), which the per-loop counts printed at
// exit show; SIGTERM stops both loops and the process exits 0.
TEST_P(EchoServerTest, TwoThreadsServeFiftyConcurrentClientsOnBothLoopsAndStopCleanly) {
    const auto port = start({}, "127.0.0.1", {"--threads", "2"});
    ASSERT_NE(port, 0);
    EXPECT_EQ(run(concurrent_round_trips(port, 50, 1000)), 50);
    EXPECT_EQ(stop(), 0);
    const auto per_loop = read_per_loop_counts(*server_);
    ASSERT_EQ(per_loop.size(), 2U);
    EXPECT_GT(per_loop[0], 0U);
    EXPECT_GT(per_loop[1], 0U);
    EXPECT_EQ(per_loop[0] + per_loop[1], 50U);
}

// With --threads 2 the counters lines carry the loop's index: at exit, one line for loop 0 and one
// for loop 1, each with every counter.
TEST_P(EchoServerTest, TwoThreadsStatsLinesSayWhichLoopTheyAreFor) {
    const auto port = start({.max_open_files = std::nullopt, .merge_stderr = true}, "127.0.0.1",
                            {"--threads", "2", "--stats"});
    ASSERT_NE(port, 0);
    EXPECT_TRUE(run(round_trip(port, pattern(100, 3))));
    EXPECT_EQ(stop(), 0);
    std::vector<unsigned long long> loops;
    for (stats_map stats; !(stats = next_stats(*server_)).empty();) {
        ASSERT_TRUE(stats.contains("loop")) << "a --threads stats line without loop=I";
        loops.push_back(stats["loop"]);
        stats.erase("loop");
        expect_all_keys(stats);
    }
    std::sort(loops.begin(), loops.end());
    EXPECT_EQ(loops, (std::vector<unsigned long long>{0, 1}));
}

// --threads 2 --accept handoff: loop 0 alone listens and accepts, and hands the connections
// round-robin to loop 0 and loop 1, each making the stream on its own thread. All 50 clients get
// their echo, each loop is handed exactly half (the per-loop counts at exit), and SIGTERM stops
// both loops with exit 0.
TEST_P(EchoServerTest, HandoffTwoThreadsServeFiftyConcurrentClientsOnBothLoopsAndStopCleanly) {
    const auto port = start({}, "127.0.0.1", {"--threads", "2", "--accept", "handoff"});
    ASSERT_NE(port, 0);
    EXPECT_EQ(run(concurrent_round_trips(port, 50, 1000)), 50);
    EXPECT_EQ(stop(), 0);
    const auto per_loop = read_per_loop_counts(*server_);
    ASSERT_EQ(per_loop.size(), 2U);
    EXPECT_EQ(per_loop[0], 25U);
    EXPECT_EQ(per_loop[1], 25U);
}

// Loop 0 is the only listener with handoff: no SO_REUSEPORT on it, so a second server with the
// default (reuseport) cannot share its port either.
TEST_P(EchoServerTest, HandoffListenerDoesNotShareItsPort) {
    const auto port = start({}, "127.0.0.1", {"--threads", "2", "--accept", "handoff"});
    ASSERT_NE(port, 0);
    child_process second({server_path(), "--port", std::to_string(port), "--threads", "2", "--backend",
                          std::string(coil::to_string(backend()))});
    EXPECT_EQ(second.wait(10s), 1);
    EXPECT_TRUE(run(round_trip(port, pattern(100, 3))));
    EXPECT_EQ(stop(), 0);
}

TEST_P(EchoServerTest, TwoThreadsOnAPortInUseFailWithACode) {
    const auto port = start();
    ASSERT_NE(port, 0);
    // The first server's listener has no SO_REUSEPORT, so the second cannot share its port.
    child_process second({server_path(), "--port", std::to_string(port), "--threads", "2", "--backend",
                          std::string(coil::to_string(backend()))});
    EXPECT_EQ(second.wait(10s), 1);
    EXPECT_EQ(stop(), 0);
}

// --threads 2: a SIGINT, SIGTERM or SIGUSR1 sent to the process goes to any thread that does not
// block it, with its default action (death) unless it is a thread whose mask a coil::signal_set
// set up. So every thread of the server (main, both loops, and any the kernel adds, such as
// io_uring's workers) must block all three once 'listening on' is printed, also after serving.
// Guards the trial report of a --threads 2 server killed by SIGUSR1 (exit 138) after that line;
// then SIGUSR1 and SIGTERM back to back print one stats line per loop and exit 0.
TEST_P(EchoServerTest, TwoThreadsEveryThreadBlocksSigintSigtermAndSigusr1) {
    const auto port = start({.max_open_files = std::nullopt, .merge_stderr = true}, "127.0.0.1",
                            {"--threads", "2"});
    ASSERT_NE(port, 0);
    auto check_masks = [&](const char* when) {
        const auto masks = coil::testing::thread_signal_masks(server_->pid());
        EXPECT_GE(masks.size(), 3u) << when << ": main thread and two loops";
        for (const auto& t : masks) {
            for (int signo : {SIGINT, SIGTERM, SIGUSR1}) {
                EXPECT_TRUE(t.blocks(signo)) << when << ": thread " << t.tid << " (" << t.name << ") leaves "
                                             << strsignal(signo) << " unblocked";
            }
        }
    };
    check_masks("after 'listening on'");
    EXPECT_EQ(run(concurrent_round_trips(port, 20, 1000)), 20);
    check_masks("after serving 20 clients");
    ASSERT_EQ(::kill(server_->pid(), SIGUSR1), 0);
    EXPECT_FALSE(next_stats(*server_).empty()) << "no stats line from the first loop after SIGUSR1";
    EXPECT_FALSE(next_stats(*server_).empty()) << "no stats line from the second loop after SIGUSR1";
    ASSERT_EQ(::kill(server_->pid(), SIGUSR1), 0);
    EXPECT_EQ(stop(), 0);  // SIGTERM right after a SIGUSR1 the server may not have read yet
}

// Regression: SIGTERM stopped the server, and a SIGUSR1 or SIGTERM sent while it was still stopping
// (after its signal_sets had gone, which unblocked the signals: joining the loops, printing the
// counts, exit) killed it with the signal's default action, exit 138 or 143 instead of 0. After
// the first SIGTERM this sends SIGUSR1 and SIGTERM every millisecond until the process is gone;
// it must still exit 0. One loop and --threads 2.
TEST_P(EchoServerTest, SignalsSentWhileItStopsDoNotKillTheServer) {
    for (const std::vector<std::string>& extra :
         {std::vector<std::string>{}, std::vector<std::string>{"--threads", "2"}}) {
        const auto port = start({}, "127.0.0.1", extra);
        ASSERT_NE(port, 0);
        EXPECT_TRUE(run(round_trip(port, pattern(100, 1))));
        ASSERT_EQ(::kill(server_->pid(), SIGTERM), 0);
        std::optional<int> code;
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (!server_->reaped() && std::chrono::steady_clock::now() < deadline) {
            ::kill(server_->pid(), SIGUSR1);
            ::kill(server_->pid(), SIGTERM);
            code = server_->wait(1ms);
        }
        EXPECT_TRUE(server_->reaped()) << "still running 20 s after SIGTERM";
        EXPECT_EQ(code, 0) << "killed by a signal while stopping (" << extra.size() << " extra flags)";
        server_.reset();
    }
}

COIL_INSTANTIATE_BACKEND_TEST(EchoServerTest);

TEST(EchoServerCliTest, HelpExitsZeroAndBadFlagsExitTwo) {
    child_process help({server_path(), "--help"});
    auto first = help.read_line(5s);
    ASSERT_TRUE(first);
    EXPECT_NE(first->find("usage"), std::string::npos);
    EXPECT_EQ(help.wait(5s), 0);
    child_process bad({server_path(), "--port", "99999"});
    EXPECT_EQ(bad.wait(5s), 2);
    child_process unknown({server_path(), "--frobnicate"});
    EXPECT_EQ(unknown.wait(5s), 2);
    child_process bad_recv({server_path(), "--recv", "mmap"});
    EXPECT_EQ(bad_recv.wait(5s), 2);
}

TEST(EchoServerCliTest, HelpListsTheAcceptModesAndABadOneExitsTwoNamingIt) {
    child_process help({server_path(), "--help"});
    bool listed = false;
    while (auto line = help.read_line(5s)) {
        if (line->find("--accept reuseport|handoff") != std::string::npos) listed = true;
    }
    EXPECT_TRUE(listed);
    EXPECT_EQ(help.wait(5s), 0);
    // stderr merged into the pipe: the first line names the bad value.
    child_process bad({server_path(), "--threads", "2", "--accept", "roundrobin"}, {.max_open_files = std::nullopt, .merge_stderr = true});
    auto first = bad.read_line(5s);
    ASSERT_TRUE(first);
    EXPECT_NE(first->find("unknown accept mode 'roundrobin'"), std::string::npos) << *first;
    EXPECT_EQ(bad.wait(5s), 2);
}

}  // namespace
