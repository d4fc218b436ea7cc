#include "coil/runtime/io.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <string>
#include <string_view>

#include "coil/runtime/errc.hpp"
#include "coil/runtime/io_handle.hpp"
#include "coil/runtime/sleep.hpp"
#include "coil/runtime/when_all.hpp"
#include "coil/runtime/with_timeout.hpp"
#include "support/backend_test.hpp"
#include "support/sockets.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;

class IoTest : public coil::testing::BackendTest {};

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s)); }

std::string as_string(std::span<const std::byte> b) {
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// Marks `fd` as owned by coil, as io_handle does (tcp_stream, tcp_listener): epoll keeps its
// registration and readiness memory only for owned fds, so the tests of that memory need one.
void own(int fd) { coil::event_loop::current()->register_fd(fd); }

TEST_P(IoTest, RecvAndSendOverASocketPair) {
    auto pair = coil::testing::make_socket_pair();
    auto body = [&]() -> task<std::string> {
        auto sent = co_await coil::send(pair.a.get(), bytes_of("ping"));
        EXPECT_EQ(sent.value(), 4u);
        std::array<std::byte, 16> buf{};
        auto got = co_await coil::recv(pair.b.get(), buf);
        co_return as_string(std::span(buf).first(got.value()));
    };
    EXPECT_EQ(run(body()), "ping");
}

TEST_P(IoTest, RecvWaitsForDataThatArrivesLater) {
    auto pair = coil::testing::make_socket_pair();
    auto reader = [&]() -> task<std::string> {
        std::array<std::byte, 16> buf{};
        auto got = co_await coil::recv(pair.b.get(), buf);
        co_return as_string(std::span(buf).first(got.value()));
    };
    auto writer = [&]() -> task<void> {
        co_await coil::sleep_for(3ms);
        (void)co_await coil::send(pair.a.get(), bytes_of("late"));
    };
    auto body = [&]() -> task<std::string> {
        auto [text, done] = co_await coil::when_all(reader(), writer());
        co_return text;
    };
    EXPECT_EQ(run(body()), "late");
}

TEST_P(IoTest, RecvReportsEofAfterPeerShutdown) {
    auto pair = coil::testing::make_socket_pair();
    ASSERT_EQ(::shutdown(pair.a.get(), SHUT_WR), 0);
    auto body = [&]() -> task<std::error_code> {
        std::array<std::byte, 16> buf{};
        auto got = co_await coil::recv(pair.b.get(), buf);
        co_return got.error();
    };
    EXPECT_EQ(run(body()), coil::errc::eof);
}

TEST_P(IoTest, SendToAClosedPeerIsEpipeNotSigpipe) {
    auto pair = coil::testing::make_socket_pair();
    pair.b.reset();
    auto body = [&]() -> task<std::error_code> {
        auto r = co_await coil::send(pair.a.get(), bytes_of("x"));
        co_return r.error();
    };
    EXPECT_EQ(run(body()), std::errc::broken_pipe);  // and the process is still alive
}

TEST_P(IoTest, ReadAndWriteThroughANonBlockingPipe) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    coil::unique_fd r(fds[0]), w(fds[1]);
    auto reader = [&]() -> task<std::string> {
        std::array<std::byte, 32> buf{};
        auto got = co_await coil::read(r.get(), buf);
        co_return as_string(std::span(buf).first(got.value()));
    };
    auto writer = [&]() -> task<void> {
        co_await coil::sleep_for(2ms);  // the reader waits first, on an empty O_NONBLOCK pipe
        auto awaited1 = co_await coil::write(w.get(), bytes_of("through a pipe"));
        EXPECT_EQ(awaited1.value(), 14u);
    };
    auto body = [&]() -> task<std::string> {
        auto [text, done] = co_await coil::when_all(reader(), writer());
        co_return text;
    };
    EXPECT_EQ(run(body()), "through a pipe");
}

TEST_P(IoTest, ReadAtAnOffsetOfARegularFile) {
    char path[] = "/tmp/coil_io_test_XXXXXX";
    coil::unique_fd file(::mkstemp(path));
    ASSERT_TRUE(file.valid());
    ::unlink(path);
    ASSERT_EQ(::write(file.get(), "0123456789", 10), 10);
    auto body = [&]() -> task<std::string> {
        std::array<std::byte, 4> buf{};
        auto got = co_await coil::read(file.get(), buf, 3);
        auto at_end = co_await coil::read(file.get(), buf, 10);
        EXPECT_EQ(at_end.error(), coil::errc::eof);
        co_return as_string(std::span(buf).first(got.value()));
    };
    EXPECT_EQ(run(body()), "3456");
}

TEST_P(IoTest, AcceptAndConnectOnLoopback) {
    auto listener = coil::testing::listen_loopback();
    auto server = [&]() -> task<std::string> {
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        auto conn = co_await coil::accept(listener.fd.get(), reinterpret_cast<sockaddr*>(&peer), &len);
        EXPECT_EQ(len, sizeof peer);
        EXPECT_EQ(ntohl(peer.sin_addr.s_addr), INADDR_LOOPBACK);
        std::array<std::byte, 16> buf{};
        auto got = co_await coil::recv(conn.value().get(), buf);
        co_return as_string(std::span(buf).first(got.value()));
    };
    auto client = [&]() -> task<void> {
        coil::unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        auto c = co_await coil::connect(fd.get(), reinterpret_cast<const sockaddr*>(&listener.address),
                                        sizeof listener.address);
        EXPECT_TRUE(c) << c.error().message();
        (void)co_await coil::send(fd.get(), bytes_of("hello"));
    };
    auto body = [&]() -> task<std::string> {
        auto [text, done] = co_await coil::when_all(server(), client());
        co_return text;
    };
    EXPECT_EQ(run(body()), "hello");
}

TEST_P(IoTest, ConnectToAClosedPortIsRefused) {
    sockaddr_in address{};
    {
        auto listener = coil::testing::listen_loopback();
        address = listener.address;
    }  // closed: nothing listens on that port now
    auto body = [&]() -> task<std::error_code> {
        coil::unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        auto c = co_await coil::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
        co_return c.error();
    };
    EXPECT_EQ(run(body()), std::errc::connection_refused);
}

TEST_P(IoTest, WaitReadableAndWritable) {
    auto pair = coil::testing::make_socket_pair();
    auto body = [&]() -> task<void> {
        auto awaited2 = co_await coil::wait_writable(pair.a.get());
        EXPECT_TRUE(awaited2);
        EXPECT_EQ(::send(pair.a.get(), "z", 1, 0), 1);
        auto awaited3 = co_await coil::wait_readable(pair.b.get());
        EXPECT_TRUE(awaited3);
        // Still readable: waiting again must not block on a consumed edge.
        auto awaited4 = co_await coil::wait_readable(pair.b.get());
        EXPECT_TRUE(awaited4);
    };
    run(body());
}

TEST_P(IoTest, CloseThroughTheBackend) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    coil::unique_fd keep(fds[0]);
    auto body = [&]() -> task<coil::result<void>> { co_return co_await coil::close(coil::unique_fd(fds[1])); };
    EXPECT_TRUE(run(body()));
    char c;
    EXPECT_EQ(::read(keep.get(), &c, 1), 0);  // the write end is closed: EOF
}

TEST_P(IoTest, NopCompletes) {
    auto body = []() -> task<bool> {
        for (int i = 0; i < 1000; ++i) {
            auto r = co_await coil::nop();
            if (!r) co_return false;
        }
        co_return true;
    };
    EXPECT_TRUE(run(body()));
}

TEST_P(IoTest, ErrorsCarryTheErrno) {
    auto body = []() -> task<std::error_code> {
        std::array<std::byte, 4> buf{};
        auto r = co_await coil::recv(-1, buf);
        co_return r.error();
    };
    EXPECT_EQ(run(body()), std::errc::bad_file_descriptor);
}

// Regression tests for epoll's readiness memory: a short recv marks the socket drained, and the
// next recv then waits for an edge without a syscall. None of these may hang or lose bytes.
TEST_P(IoTest, DataArrivingAfterAShortRecvWithNobodyWaitingIsStillReceived) {
    auto pair = coil::testing::make_socket_pair();
    auto body = [&]() -> task<std::string> {
        own(pair.b.get());
        std::array<std::byte, 8> buf{};
        EXPECT_EQ(::send(pair.a.get(), "abc", 3, 0), 3);
        auto awaited5 = co_await coil::recv(pair.b.get(), buf);
        EXPECT_EQ(awaited5.value(), 3u);  // short: drained
        EXPECT_EQ(::send(pair.a.get(), "de", 2, 0), 2);  // its edge comes while nobody waits
        co_await coil::sleep_for(2ms);                  // a poll sees that edge
        auto got = co_await coil::recv(pair.b.get(), buf);
        co_return as_string(std::span(buf).first(got.value()));
    };
    EXPECT_EQ(run(body()), "de");
}

TEST_P(IoTest, DataArrivingRightAfterAShortRecvIsReceived) {
    auto pair = coil::testing::make_socket_pair();
    auto body = [&]() -> task<std::string> {
        own(pair.b.get());
        std::array<std::byte, 8> buf{};
        EXPECT_EQ(::send(pair.a.get(), "abc", 3, 0), 3);
        auto awaited6 = co_await coil::recv(pair.b.get(), buf);
        EXPECT_EQ(awaited6.value(), 3u);
        EXPECT_EQ(::send(pair.a.get(), "xy", 2, 0), 2);  // no poll in between
        auto got = co_await coil::recv(pair.b.get(), buf);
        co_return as_string(std::span(buf).first(got.value()));
    };
    EXPECT_EQ(run(body()), "xy");
}

TEST_P(IoTest, EndOfStreamAfterAShortRecvIsReported) {
    auto pair = coil::testing::make_socket_pair();
    auto body = [&]() -> task<std::error_code> {
        own(pair.b.get());
        std::array<std::byte, 8> buf{};
        EXPECT_EQ(::send(pair.a.get(), "abc", 3, 0), 3);
        auto awaited7 = co_await coil::recv(pair.b.get(), buf);
        EXPECT_EQ(awaited7.value(), 3u);
        ::shutdown(pair.a.get(), SHUT_WR);
        auto first = co_await coil::recv(pair.b.get(), buf);
        auto again = co_await coil::recv(pair.b.get(), buf);  // end of stream is sticky
        EXPECT_EQ(first.error(), coil::errc::eof);
        co_return again.error();
    };
    EXPECT_EQ(run(body()), coil::errc::eof);
}

// Regression: a FIN that arrives in the same edge as the last data. The retry reads the data
// short (which alone would mean "drained, wait for the next edge"), but no further edge comes:
// the next recv must still report end of stream, not wait forever.
TEST_P(IoTest, FinArrivingInTheSameEdgeAsTheLastDataIsReportedAsEof) {
    auto pair = coil::testing::make_socket_pair();
    auto reader = [&]() -> task<std::error_code> {
        std::array<std::byte, 64> buf{};
        auto first = co_await coil::recv(pair.b.get(), buf);  // waits; then gets "abc" short
        EXPECT_EQ(first.value_or(0), 3u);
        auto second = co_await coil::with_timeout(coil::recv(pair.b.get(), buf), 2s);
        co_return second.error();
    };
    auto writer = [&]() -> task<void> {
        // Both before the loop polls again: one edge carries the data and the hang-up.
        EXPECT_EQ(::send(pair.a.get(), "abc", 3, 0), 3);
        ::shutdown(pair.a.get(), SHUT_WR);
        co_return;
    };
    auto body = [&]() -> task<std::error_code> {
        own(pair.b.get());
        auto [error, done] = co_await coil::when_all(reader(), writer());
        co_return error;
    };
    EXPECT_EQ(run(body()), coil::errc::eof);
}

// Regression: close() takes the fd from its owner, so it must run even in a task that is already
// cancelled; it used to short-circuit with operation_canceled and leak the fd.
TEST_P(IoTest, CloseInAnAlreadyCancelledTaskStillClosesTheFd) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    coil::unique_fd keep(fds[0]);
    coil::cancel_source source;
    source.request_cancel();
    auto body = [&]() -> task<void> { (void)co_await coil::close(coil::unique_fd(fds[1])); };
    auto t = body();
    t.set_cancel_token(source.token());
    run(std::move(t));
    char c;
    EXPECT_EQ(::read(keep.get(), &c, 1), 0);  // the write end is closed: EOF, not EAGAIN
}

TEST_P(IoTest, WriteToAPipeWithoutReaderIsEpipeNotSigpipe) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    coil::unique_fd w(fds[1]);
    ::close(fds[0]);
    auto body = [&]() -> task<std::error_code> {
        auto r = co_await coil::write(w.get(), bytes_of("x"));
        co_return r.error();
    };
    EXPECT_EQ(run(body()), std::errc::broken_pipe);  // and we are alive to check it
}

// Regression: on io_uring a registered fd lives in a fixed-file slot. close() through the backend
// must empty that slot; otherwise the slot keeps the old socket open, and ops on the next file
// that gets the same fd number would silently go to the old socket. On epoll the first socket is
// drained and waited on before the close (registration and readiness memory), which the close
// through coil must forget.
TEST_P(IoTest, AnFdNumberReusedAfterACloseThroughCoilReachesTheNewFileNotTheOld) {
    auto body = []() -> task<std::string> {
        auto first = coil::testing::make_socket_pair();
        const int number = first.a.get();
        own(number);
        std::array<std::byte, 8> buf{};
        EXPECT_EQ(::send(first.b.get(), "old", 3, 0), 3);
        auto awaited8 = co_await coil::recv(number, buf);
        EXPECT_EQ(awaited8.value_or(0), 3u);  // short: drained
        auto waited = co_await coil::with_timeout(coil::recv(number, buf), 2ms);  // registers
        EXPECT_EQ(waited.error(), std::errc::timed_out);
        auto closed = co_await coil::close(std::move(first.a));
        EXPECT_TRUE(closed);
        auto second = coil::testing::make_socket_pair();  // the lowest free number: `number`
        EXPECT_TRUE(second.a.get() == number || second.b.get() == number);
        const int reused = second.a.get() == number ? second.a.get() : second.b.get();
        const int peer = reused == second.a.get() ? second.b.get() : second.a.get();
        own(reused);
        EXPECT_EQ(::send(peer, "new", 3, 0), 3);
        auto got = co_await coil::with_timeout(coil::recv(reused, buf), 2s);
        co_return got ? as_string(std::span(buf).first(*got)) : got.error().message();
    };
    EXPECT_EQ(run(body()), "new");
}

// Closes both ends of `pair` with ::close, behind coil's back (the raw fds are allowed that).
void close_behind_coils_back(coil::testing::socket_pair& pair) {
    ::close(pair.a.release());
    ::close(pair.b.release());
}

// The fd of `pair` numbered `number`, and its peer.
std::pair<int, int> end_numbered(const coil::testing::socket_pair& pair, int number) {
    EXPECT_TRUE(pair.a.get() == number || pair.b.get() == number) << "the number was not reused";
    return pair.a.get() == number ? std::pair{pair.a.get(), pair.b.get()}
                                  : std::pair{pair.b.get(), pair.a.get()};
}

// Regression (epoll): a read on a pipe waited once (registering the fd), the pipe was closed with
// ::close and a new pipe got the same number; the kernel had dropped the old registration, but
// epoll still thought the number registered and never added the new pipe: the read never ended.
TEST_P(IoTest, ReadOnAPipeReusingTheNumberOfARawClosedPipeSeesTheNewPipe) {
    auto body = []() -> task<std::string> {
        int old_pipe[2];
        EXPECT_EQ(::pipe2(old_pipe, O_NONBLOCK | O_CLOEXEC), 0);
        std::array<std::byte, 8> buf{};
        auto waited = co_await coil::with_timeout(coil::read(old_pipe[0], buf), 2ms);
        EXPECT_EQ(waited.error(), std::errc::timed_out);
        ::close(old_pipe[0]);
        ::close(old_pipe[1]);
        int fds[2];
        EXPECT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
        coil::unique_fd r(fds[0]), w(fds[1]);
        EXPECT_EQ(r.get(), old_pipe[0]) << "the number was not reused";
        auto writer = [](int fd) -> task<void> {
            co_await coil::sleep_for(5ms);  // the read below is waiting by then
            EXPECT_EQ(::write(fd, "new", 3), 3);
        };
        auto reader = [&](int fd) -> task<std::string> {
            auto got = co_await coil::with_timeout(coil::read(fd, buf), 2s);
            co_return got ? as_string(std::span(buf).first(*got)) : got.error().message();
        };
        auto [text, done] = co_await coil::when_all(reader(r.get()), writer(w.get()));
        co_return text;
    };
    EXPECT_EQ(run(body()), "new");
}

// Regression (epoll): readiness memory of a raw socket closed with ::close (drained: "wait for
// the next edge without trying") was inherited by the new socket with the same number, whose
// data was already queued (no edge to come): the recv waited forever.
TEST_P(IoTest, RecvOnASocketReusingTheNumberOfARawClosedSocketForgetsItsReadiness) {
    auto body = []() -> task<std::string> {
        auto first = coil::testing::make_socket_pair();
        const int number = first.a.get();
        std::array<std::byte, 8> buf{};
        EXPECT_EQ(::send(first.b.get(), "old", 3, 0), 3);
        auto awaited9 = co_await coil::recv(number, buf);
        EXPECT_EQ(awaited9.value_or(0), 3u);  // short: drained
        auto waited = co_await coil::with_timeout(coil::recv(number, buf), 2ms);
        EXPECT_EQ(waited.error(), std::errc::timed_out);
        close_behind_coils_back(first);
        auto second = coil::testing::make_socket_pair();
        auto [reused, peer] = end_numbered(second, number);
        EXPECT_EQ(::send(peer, "new", 3, 0), 3);  // queued before the recv: no edge follows
        auto got = co_await coil::with_timeout(coil::recv(reused, buf), 2s);
        co_return got ? as_string(std::span(buf).first(*got)) : got.error().message();
    };
    EXPECT_EQ(run(body()), "new");
}

// Fills `fd`'s send buffer with coil::send until it would block.
task<void> fill_send_buffer(int fd) {
    std::array<std::byte, 4096> chunk{};
    for (int i = 0; i < 100'000; ++i) {
        auto sent = co_await coil::with_timeout(coil::send(fd, chunk), 2ms);
        if (!sent) break;
    }
}

// The same for the write side: "full, wait for an out-edge" must not pass to the new socket.
TEST_P(IoTest, SendOnASocketReusingTheNumberOfARawClosedSocketForgetsItsReadiness) {
    auto body = []() -> task<coil::result<std::size_t>> {
        auto first = coil::testing::make_socket_pair();
        const int number = first.a.get();
        co_await fill_send_buffer(number);  // ends with a send that waited (registered) in vain
        close_behind_coils_back(first);
        auto second = coil::testing::make_socket_pair();
        auto [reused, peer] = end_numbered(second, number);
        co_return co_await coil::with_timeout(coil::send(reused, bytes_of("x")), 2s);
    };
    const auto sent = run(body());
    ASSERT_TRUE(sent) << sent.error().message();
    EXPECT_EQ(*sent, 1u);
}

// A raw fd number, waited on and closed with ::close, then taken by an io_handle (owned: epoll
// trusts its registration from then on): the handle's fd must be registered afresh.
TEST_P(IoTest, AnIoHandleTakingTheNumberOfARawClosedFdIsRegisteredAfresh) {
    auto body = []() -> task<std::string> {
        auto first = coil::testing::make_socket_pair();
        const int number = first.a.get();
        std::array<std::byte, 8> buf{};
        auto waited = co_await coil::with_timeout(coil::recv(number, buf), 2ms);  // registers
        EXPECT_EQ(waited.error(), std::errc::timed_out);
        close_behind_coils_back(first);
        auto second = coil::testing::make_socket_pair();
        auto [reused, peer] = end_numbered(second, number);
        coil::io_handle handle(coil::unique_fd(second.a.get() == reused ? second.a.release()
                                                                         : second.b.release()));
        auto writer = [](int fd) -> task<void> {
            co_await coil::sleep_for(5ms);  // the recv below waits for this edge
            EXPECT_EQ(::send(fd, "new", 3, 0), 3);
        };
        auto reader = [&]() -> task<std::string> {
            auto got = co_await coil::with_timeout(handle.track(coil::recv(handle.fd(), buf)), 2s);
            co_return got ? as_string(std::span(buf).first(*got)) : got.error().message();
        };
        auto [text, done] = co_await coil::when_all(reader(), writer(peer));
        co_return text;
    };
    EXPECT_EQ(run(body()), "new");
}

// Zero-length transfers complete at once with 0 bytes, on every fd-level transfer op (regression:
// a recv of an empty buffer on an idle socket waited for data, until its timeout).
TEST_P(IoTest, ZeroLengthRecvCompletesAtOnce) {
    auto pair = coil::testing::make_socket_pair();  // the peer sends nothing
    auto body = [&]() -> task<coil::result<std::size_t>> {
        co_return co_await coil::with_timeout(coil::recv(pair.a.get(), std::span<std::byte>{}), 2s);
    };
    const auto got = run(body());
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(*got, 0u);
}

TEST_P(IoTest, ZeroLengthSendCompletesAtOnceOnAFullSocket) {
    auto pair = coil::testing::make_socket_pair();
    auto body = [&]() -> task<coil::result<std::size_t>> {
        co_await fill_send_buffer(pair.a.get());
        co_return co_await coil::with_timeout(coil::send(pair.a.get(), std::span<const std::byte>{}), 2s);
    };
    const auto sent = run(body());
    ASSERT_TRUE(sent) << sent.error().message();
    EXPECT_EQ(*sent, 0u);
}

TEST_P(IoTest, ZeroLengthReadCompletesAtOnceOnAnEmptyPipe) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    coil::unique_fd r(fds[0]), w(fds[1]);
    auto body = [&]() -> task<coil::result<std::size_t>> {
        co_return co_await coil::with_timeout(coil::read(r.get(), std::span<std::byte>{}), 2s);
    };
    const auto got = run(body());
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(*got, 0u);
}

TEST_P(IoTest, ZeroLengthWriteCompletesAtOnceOnAFullPipe) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    coil::unique_fd r(fds[0]), w(fds[1]);
    std::array<char, 4096> chunk{};
    while (::write(w.get(), chunk.data(), chunk.size()) > 0) {
    }
    ASSERT_EQ(errno, EAGAIN);
    auto body = [&]() -> task<coil::result<std::size_t>> {
        co_return co_await coil::with_timeout(coil::write(w.get(), std::span<const std::byte>{}), 2s);
    };
    const auto wrote = run(body());
    ASSERT_TRUE(wrote) << wrote.error().message();
    EXPECT_EQ(*wrote, 0u);
}

// No syscall is made for an empty buffer: even an fd that is not open gives 0, not EBADF.
TEST_P(IoTest, ZeroLengthTransfersReachNoSyscallEvenOnABadFd) {
    auto body = []() -> task<int> {
        int zeros = 0;
        zeros += (co_await coil::recv(-1, std::span<std::byte>{})).value_or(1) == 0;
        zeros += (co_await coil::send(-1, std::span<const std::byte>{})).value_or(1) == 0;
        zeros += (co_await coil::read(-1, std::span<std::byte>{})).value_or(1) == 0;
        zeros += (co_await coil::write(-1, std::span<const std::byte>{})).value_or(1) == 0;
        co_return zeros;
    };
    EXPECT_EQ(run(body()), 4);
}

// Zero-length completions are inline completions: the cooperative budget still makes a task that
// does nothing else let the others run.
TEST_P(IoTest, ZeroLengthRecvsInALoopStillLetOtherTasksRun) {
    auto pair = coil::testing::make_socket_pair();
    constexpr int rounds = 10 * coil::event_loop::inline_budget_per_resume;
    bool other_ran = false;
    auto spinner = [&]() -> task<int> {
        for (int i = 0; i < rounds; ++i) {
            (void)co_await coil::recv(pair.a.get(), std::span<std::byte>{});
            if (other_ran) co_return i;
        }
        co_return rounds;
    };
    auto other = [&]() -> task<void> {
        other_ran = true;
        co_return;
    };
    auto body = [&]() -> task<int> {
        auto [rounds_before, done] = co_await coil::when_all(spinner(), other());
        co_return rounds_before;
    };
    EXPECT_LT(run(body()), rounds) << "the zero-length recvs never let the other task run";
}

// Closing an io_handle while other tasks' tracked operations wait on its fd ends each of them
// with operation_canceled, on both backends, and closes the fd after the last one.
TEST_P(IoTest, ResettingAnIoHandleEndsItsWaitingRecvAndSendWithOperationCanceled) {
    auto pair = coil::testing::make_socket_pair();
    const int number = pair.a.get();
    auto body = [&]() -> task<void> {
        co_await fill_send_buffer(pair.a.get());
        coil::io_handle handle(std::move(pair.a));
        auto receiver = [](coil::io_handle& h) -> task<std::error_code> {
            std::array<std::byte, 8> buf{};
            auto r = co_await coil::with_timeout(h.track(coil::recv(h.fd(), buf)), 5s);
            co_return r.error();
        };
        auto sender = [](coil::io_handle& h) -> task<std::error_code> {
            auto r = co_await coil::with_timeout(h.track(coil::send(h.fd(), bytes_of("x"))), 5s);
            co_return r.error();
        };
        auto closer = [number](coil::io_handle& h) -> task<void> {
            co_await coil::sleep_for(5ms);
            EXPECT_EQ(h.in_flight(), 2u);
            h.reset();
            EXPECT_TRUE(coil::testing::fd_is_open(number)) << "closed under ops still in flight";
        };
        auto [recv_error, send_error, done] =
            co_await coil::when_all(receiver(handle), sender(handle), closer(handle));
        EXPECT_EQ(recv_error, std::errc::operation_canceled);
        EXPECT_EQ(send_error, std::errc::operation_canceled);
        EXPECT_FALSE(coil::testing::fd_is_open(number)) << "closed once the last op was done";
    };
    run(body());
}

// Regression: epoll's readiness memory took any short recv for "drained". A datagram socket
// returns one short datagram per recv with more queued, and MSG_PEEK consumes nothing: the next
// recv then waited for an edge that never came.
task<std::string> recv_twice(int fd, int first_flags, int peer) {
    std::array<std::byte, 100> buf{};
    auto writer = [](int to) -> task<void> {
        co_await coil::sleep_for(5ms);  // the first recv is waiting (registered) by then
        EXPECT_EQ(::send(to, "one", 3, 0), 3);
        EXPECT_EQ(::send(to, "two", 3, 0), 3);
    };
    auto reader = [&]() -> task<std::string> {
        auto first = co_await coil::recv(fd, buf, first_flags);
        EXPECT_TRUE(first);
        auto second = co_await coil::with_timeout(coil::recv(fd, buf), 2s);
        co_return second ? as_string(std::span(buf).first(*second)) : second.error().message();
    };
    own(fd);
    auto [text, done] = co_await coil::when_all(reader(), writer(peer));
    co_return text;
}

TEST_P(IoTest, ADatagramSocketWithMoreQueuedIsNotTakenForDrained) {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    coil::unique_fd a(fds[0]), b(fds[1]);
    EXPECT_EQ(run(recv_twice(a.get(), 0, b.get())), "two");
}

TEST_P(IoTest, APeekDoesNotMarkASocketDrained) {
    auto pair = coil::testing::make_socket_pair();
    const auto got = run(recv_twice(pair.b.get(), MSG_PEEK, pair.a.get()));
    EXPECT_TRUE(got == "one" || got == "onetwo") << got;  // what was peeked is still there
}

// sendmsg/recvmsg are message ops: an empty message is a datagram, so unlike recv/send above they
// reach the kernel with an empty buffer (a bad fd then says EBADF) and deliver an empty datagram
// as 0 bytes, not eof.
TEST_P(IoTest, MessageOpsWithEmptyBuffersReachTheKernelAndCarryAnEmptyDatagram) {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    coil::unique_fd a(fds[0]), b(fds[1]);
    auto body = [&]() -> task<void> {
        msghdr empty{};
        auto bad = co_await coil::sendmsg(-1, empty);
        EXPECT_EQ(bad.error(), std::errc::bad_file_descriptor);
        auto sent = co_await coil::sendmsg(a.get(), empty);
        EXPECT_EQ(sent.value(), 0u);
        std::array<std::byte, 16> buf{};
        iovec iov{buf.data(), buf.size()};
        msghdr in{};
        in.msg_iov = &iov;
        in.msg_iovlen = 1;
        auto got = co_await coil::with_timeout(coil::recvmsg(b.get(), in), 2s);
        EXPECT_TRUE(got) << got.error().message();
        EXPECT_EQ(got.value_or(99), 0u);
        EXPECT_EQ(in.msg_flags & MSG_TRUNC, 0);
    };
    run(body());
}

TEST_P(IoTest, RecvmsgReportsATruncatedDatagramInMsgFlags) {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    coil::unique_fd a(fds[0]), b(fds[1]);
    auto body = [&]() -> task<std::string> {
        EXPECT_EQ(::send(a.get(), "truncated", 9, 0), 9);
        std::array<std::byte, 4> buf{};
        iovec iov{buf.data(), buf.size()};
        msghdr in{};
        in.msg_iov = &iov;
        in.msg_iovlen = 1;
        auto got = co_await coil::with_timeout(coil::recvmsg(b.get(), in), 2s);
        EXPECT_NE(in.msg_flags & MSG_TRUNC, 0);
        co_return got ? as_string(std::span(buf).first(*got)) : got.error().message();
    };
    EXPECT_EQ(run(body()), "trun");
}

COIL_INSTANTIATE_BACKEND_TEST(IoTest);

}  // namespace
