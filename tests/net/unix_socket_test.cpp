// Unix domain stream sockets (unix_listener, unix_stream, unix_connect) on both backends: echo
// over a path and over an abstract name, the stale-file rule of bind (a stale socket file is
// replaced; a live socket and a regular file are left alone), path limits, the listener's removal
// of its own file, peer credentials, the shared stream behaviour (ordered send_all, gathered
// send_all, buffered_reader). Every socket file lives in a per-test mkdtemp directory, removed
// after; the fixture checks that no fd leaked.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "coil/net/buffered_reader.hpp"
#include "coil/net/unix_connect.hpp"
#include "coil/net/unix_endpoint.hpp"
#include "coil/net/unix_listener.hpp"
#include "coil/net/unix_stream.hpp"
#include "coil/runtime.hpp"
#include "support/backend_test.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;
using coil::unix_endpoint;
using coil::unix_listener;
using coil::unix_stream;

static_assert(coil::readable_stream<unix_stream>);

class UnixSocketTest : public coil::testing::BackendTest {
protected:
    void SetUp() override {
        BackendTest::SetUp();
        std::string pattern = (std::filesystem::temp_directory_path() / "coil-unix-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }
    void TearDown() override {
        std::error_code ignored;
        if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
        BackendTest::TearDown();
    }
    [[nodiscard]] std::string path(const std::string& name) const { return (dir_ / name).string(); }

private:
    std::filesystem::path dir_;
};

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s)); }

std::string text_of(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// A name no other test (or run) uses at the same time: abstract names are per network namespace.
unix_endpoint unique_abstract() {
    static std::atomic<int> counter{0};
    return unix_endpoint::abstract("coil-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
}

// Connects to `listener` and accepts: {client side, server side}.
task<std::pair<unix_stream, unix_stream>> connected_pair(unix_listener& listener) {
    auto [client, server] = co_await coil::when_all(coil::unix_connect(listener.local_endpoint(), 5s),
                                                    listener.accept());
    EXPECT_TRUE(client) << client.error().message();
    EXPECT_TRUE(server) << server.error().message();
    co_return std::pair{std::move(client).value(), std::move(server).value()};
}

// The client sends `message`, the server echoes it, the client reads it back.
task<std::string> echo_once(unix_listener& listener, std::string message) {
    auto [client, server] = co_await connected_pair(listener);
    auto sent = co_await client.send_all(bytes_of(message));
    EXPECT_TRUE(sent);
    std::vector<std::byte> got(message.size());
    auto received = co_await server.recv_exact(got);
    EXPECT_TRUE(received);
    auto back = co_await server.send_all(got);
    EXPECT_TRUE(back);
    std::vector<std::byte> echoed(message.size());
    auto reply = co_await client.recv_exact(echoed);
    EXPECT_TRUE(reply);
    co_return text_of(echoed);
}

// A socket file whose socket is gone, as a server that died without cleaning up leaves it.
void make_stale_socket_file(const std::string& at) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    socklen_t len = 0;
    ASSERT_TRUE(unix_endpoint(at).to_sockaddr(addr, len));
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), len), 0);
    ::close(fd);
}

bool is_socket_file(const std::string& at) {
    struct stat st{};
    return ::lstat(at.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

TEST_P(UnixSocketTest, EchoRoundTripOverAPath) {
    const std::string file = path("echo.sock");
    auto body = [](std::string at) -> task<std::string> {
        auto listener = unix_listener::bind(unix_endpoint(at)).value();
        EXPECT_TRUE(is_socket_file(at));
        EXPECT_EQ(listener.local_endpoint().to_string(), at);
        co_return co_await echo_once(listener, "ping over a path");
    };
    EXPECT_EQ(run(body(file)), "ping over a path");
}

TEST_P(UnixSocketTest, EndpointsOfBothEnds) {
    const std::string file = path("ends.sock");
    auto body = [](std::string at) -> task<void> {
        auto listener = unix_listener::bind(unix_endpoint(at)).value();
        auto [client, server] = co_await connected_pair(listener);
        EXPECT_EQ(client.peer_endpoint().value(), unix_endpoint(at));
        EXPECT_EQ(server.local_endpoint().value(), unix_endpoint(at));
        EXPECT_TRUE(client.local_endpoint().value().is_unnamed());  // the client did not bind
        EXPECT_TRUE(server.peer_endpoint().value().is_unnamed());
    };
    run(body(file));
}

TEST_P(UnixSocketTest, AbstractNameRoundTripLeavesNoFile) {
    auto body = []() -> task<std::string> {
        const unix_endpoint name = unique_abstract();
        auto listener = unix_listener::bind(name).value();
        EXPECT_TRUE(listener.local_endpoint().is_abstract());
        EXPECT_EQ(listener.local_endpoint().to_string(), "@" + name.name());
        auto [client, server] = co_await connected_pair(listener);
        EXPECT_EQ(client.peer_endpoint().value(), name);
        co_return co_await echo_once(listener, "ping over an abstract name");
    };
    EXPECT_EQ(run(body()), "ping over an abstract name");
    EXPECT_TRUE(std::filesystem::is_empty(path("")));  // nothing in the filesystem
}

TEST_P(UnixSocketTest, AbstractNameIsFreeAgainOnceTheListenerCloses) {
    auto body = []() -> task<void> {
        const unix_endpoint name = unique_abstract();
        {
            auto first = unix_listener::bind(name);
            EXPECT_TRUE(first);
            auto second = unix_listener::bind(name);  // taken while the first lives
            EXPECT_EQ(second.error(), std::errc::address_in_use);
        }
        auto again = unix_listener::bind(name);
        EXPECT_TRUE(again) << again.error().message();
        co_return;
    };
    run(body());
}

TEST_P(UnixSocketTest, BindOverAStaleSocketFileReplacesIt) {
    const std::string file = path("stale.sock");
    make_stale_socket_file(file);
    ASSERT_TRUE(is_socket_file(file));
    auto body = [](std::string at) -> task<std::string> {
        auto refused = co_await coil::unix_connect(unix_endpoint(at), 5s);  // nobody listens
        EXPECT_EQ(refused.error(), std::errc::connection_refused);
        auto listener = unix_listener::bind(unix_endpoint(at));
        EXPECT_TRUE(listener) << listener.error().message();
        if (!listener) co_return "";
        co_return co_await echo_once(*listener, "fresh");
    };
    EXPECT_EQ(run(body(file)), "fresh");
}

TEST_P(UnixSocketTest, BindOverALiveSocketFailsAndTheLiveServerSeesNoProbeConnection) {
    const std::string file = path("live.sock");
    auto body = [](std::string at) -> task<std::string> {
        auto first = unix_listener::bind(unix_endpoint(at)).value();
        struct stat before{};
        EXPECT_EQ(::lstat(at.c_str(), &before), 0);
        auto second = unix_listener::bind(unix_endpoint(at));
        EXPECT_FALSE(second);
        if (second) co_return "";
        EXPECT_EQ(second.error(), std::errc::address_in_use);
        struct stat after{};
        EXPECT_EQ(::lstat(at.c_str(), &after), 0);
        EXPECT_EQ(before.st_ino, after.st_ino);  // the same file: not removed and re-made
        // Its next accept is the real client's connection (a stream probe would have left an
        // empty one in its backlog first).
        co_return co_await echo_once(first, "still here");
    };
    EXPECT_EQ(run(body(file)), "still here");
}

TEST_P(UnixSocketTest, BindOverARegularFileFailsAndLeavesIt) {
    const std::string file = path("data.txt");
    std::ofstream(file) << "keep me";
    auto body = [](std::string at) -> task<void> {
        auto listener = unix_listener::bind(unix_endpoint(at));
        EXPECT_FALSE(listener);
        if (!listener) {
            EXPECT_EQ(listener.error(), std::errc::address_in_use);
        }
        co_return;
    };
    run(body(file));
    std::ifstream in(file);
    std::string content;
    std::getline(in, content);
    EXPECT_EQ(content, "keep me");
}

TEST_P(UnixSocketTest, OverLongPathsAndNamesAreRefusedNotTruncated) {
    // The longest path that fits (107 bytes, and its NUL) binds; one byte more is refused.
    std::string longest = path("");
    ASSERT_LT(longest.size(), unix_endpoint::max_path_length);
    longest += std::string(unix_endpoint::max_path_length - longest.size(), 'p');
    ASSERT_EQ(longest.size(), 107u);
    const std::string too_long = longest + "p";
    auto body = [](std::string fit, std::string over) -> task<void> {
        auto fits = unix_listener::bind(unix_endpoint(fit));
        EXPECT_TRUE(fits) << fits.error().message();
        auto bind_error = unix_listener::bind(unix_endpoint(over));
        EXPECT_EQ(bind_error.error(), std::errc::filename_too_long);
        auto connect_error = co_await coil::unix_connect(unix_endpoint(over), 5s);
        EXPECT_EQ(connect_error.error(), std::errc::filename_too_long);

        const std::string name(unix_endpoint::max_abstract_length, 'a');
        auto abstract_fits = unix_listener::bind(unix_endpoint::abstract(name));
        EXPECT_TRUE(abstract_fits) << abstract_fits.error().message();
        auto abstract_error = unix_listener::bind(unix_endpoint::abstract(name + "a"));
        EXPECT_EQ(abstract_error.error(), std::errc::filename_too_long);

        auto empty = unix_listener::bind(unix_endpoint(""));
        EXPECT_EQ(empty.error(), std::errc::invalid_argument);
        auto nul = unix_listener::bind(unix_endpoint(std::string("a\0b", 3)));
        EXPECT_EQ(nul.error(), std::errc::invalid_argument);
    };
    run(body(longest, too_long));
    EXPECT_FALSE(std::filesystem::exists(too_long));
    EXPECT_FALSE(std::filesystem::exists(too_long.substr(0, 108)));
}

TEST_P(UnixSocketTest, ClosingTheListenerRemovesItsFile) {
    const std::string file = path("closed.sock");
    auto body = [](std::string at) -> task<void> {
        auto listener = unix_listener::bind(unix_endpoint(at)).value();
        unix_listener moved = std::move(listener);
        listener = unix_listener();  // the moved-from one removes nothing
        EXPECT_TRUE(is_socket_file(at));
        moved.close();
        EXPECT_FALSE(std::filesystem::exists(at));
        co_return;
    };
    run(body(file));
    // And destruction does the same.
    auto destroyed = [](std::string at) -> task<void> {
        {
            auto listener = unix_listener::bind(unix_endpoint(at)).value();
            EXPECT_TRUE(is_socket_file(at));
        }
        EXPECT_FALSE(std::filesystem::exists(at));
        co_return;
    };
    run(destroyed(file));
}

TEST_P(UnixSocketTest, ClosingTheListenerLeavesAFileItDidNotMake) {
    const std::string file = path("replaced.sock");
    auto body = [](std::string at) -> task<void> {
        auto listener = unix_listener::bind(unix_endpoint(at)).value();
        EXPECT_EQ(::unlink(at.c_str()), 0);  // someone removed ours and put their own file there
        std::ofstream(at) << "theirs";
        listener.close();
        co_return;
    };
    run(body(file));
    EXPECT_TRUE(std::filesystem::is_regular_file(file));
}

TEST_P(UnixSocketTest, ConnectToAMissingPathSaysSo) {
    const std::string file = path("nobody.sock");
    auto body = [](std::string at) -> task<void> {
        auto missing = co_await coil::unix_connect(unix_endpoint(at), 5s);
        EXPECT_EQ(missing.error(), std::errc::no_such_file_or_directory);
        auto unbound = co_await coil::unix_connect(unique_abstract(), 5s);
        EXPECT_EQ(unbound.error(), std::errc::connection_refused);
    };
    run(body(file));
}

TEST_P(UnixSocketTest, PeerCredentialsAreThisProcess) {
    const std::string file = path("cred.sock");
    auto body = [](std::string at) -> task<void> {
        auto listener = unix_listener::bind(unix_endpoint(at)).value();
        auto [client, server] = co_await connected_pair(listener);
        const coil::unix_credentials self{::getpid(), ::getuid(), ::getgid()};
        EXPECT_EQ(server.peer_credentials().value(), self);
        EXPECT_EQ(client.peer_credentials().value(), self);
        client.close();
        EXPECT_EQ(client.peer_credentials().error(), std::errc::bad_file_descriptor);
    };
    run(body(file));
}

constexpr std::size_t message_size = 64 * 1024;  // many partial sends with an 8 KiB send buffer

std::vector<std::byte> message_of(char tag, std::size_t size) { return std::vector<std::byte>(size, std::byte(tag)); }

task<coil::transfer_result> send_tagged(const unix_stream& out, char tag, std::size_t size) {
    const std::vector<std::byte> msg = message_of(tag, size);
    co_return co_await out.send_all(msg);
}

TEST_P(UnixSocketTest, ConcurrentSendAllsArriveWholeAndInIssueOrder) {
    auto body = []() -> task<std::string> {
        auto [out, in] = unix_stream::pair().value();
        const int small = 8 * 1024;
        EXPECT_EQ(::setsockopt(out.native_handle(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
        auto receive = [](const unix_stream& from) -> task<std::string> {
            std::vector<std::byte> buf(message_size);
            std::string tags;
            for (int i = 0; i < 8; ++i) {
                auto got = co_await from.recv_exact(buf);
                EXPECT_TRUE(got) << got.error().message();
                if (!got) break;
                bool whole = true;
                for (std::byte b : buf) whole = whole && b == buf.front();
                tags += whole ? static_cast<char>(buf.front()) : '!';
            }
            co_return tags;
        };
        std::vector<task<coil::transfer_result>> writers;
        for (char tag = 'A'; tag < 'A' + 8; ++tag) writers.push_back(send_tagged(out, tag, message_size));
        auto [sent, tags] = co_await coil::when_all(coil::when_all(std::move(writers)), receive(in));
        for (const auto& r : sent) EXPECT_EQ(r.transferred(), message_size);
        co_return tags;
    };
    EXPECT_EQ(run(body()), "ABCDEFGH");
}

TEST_P(UnixSocketTest, GatheredSendAllAndBufferedReaderReadLines) {
    const std::string file = path("lines.sock");
    auto body = [](std::string at) -> task<std::vector<std::string>> {
        auto listener = unix_listener::bind(unix_endpoint(at)).value();
        auto [client, server] = co_await connected_pair(listener);
        const std::array<std::span<const std::byte>, 3> parts{bytes_of("one\ntw"), bytes_of("o\r\nthr"),
                                                              bytes_of("ee\n")};
        auto sent = co_await client.send_all(std::span<const std::span<const std::byte>>(parts));
        EXPECT_EQ(sent.transferred(), 15u);
        client.close();
        coil::buffered_reader reader(server);
        std::vector<std::string> lines;
        for (;;) {
            auto line = co_await reader.read_line(64);
            if (!line) {
                EXPECT_EQ(line.error(), coil::errc::eof);
                break;
            }
            lines.emplace_back(*line);
        }
        co_return lines;
    };
    EXPECT_EQ(run(body(file)), (std::vector<std::string>{"one", "two", "three"}));
}

TEST_P(UnixSocketTest, ClosingTheListenerEndsAWaitingAccept) {
    const std::string file = path("accept.sock");
    auto body = [](std::string at) -> task<std::error_code> {
        auto listener = unix_listener::bind(unix_endpoint(at)).value();
        auto closer = [](unix_listener& l) -> task<void> {
            co_await coil::yield();
            l.close();
        };
        auto [accepted, unused] = co_await coil::when_all(listener.accept(), closer(listener));
        co_return accepted.error();
    };
    EXPECT_EQ(run(body(file)), std::errc::operation_canceled);
    EXPECT_FALSE(std::filesystem::exists(file));
}

}  // namespace

COIL_INSTANTIATE_BACKEND_TEST(UnixSocketTest);
