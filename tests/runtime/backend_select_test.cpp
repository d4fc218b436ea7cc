// Backend selection: COIL_BACKEND, the configured preference, and the fallback to epoll when
// io_uring is refused (here by a seccomp filter, as container runtimes do).
#include "coil/runtime/backend_kind.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <stdexcept>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/io.hpp"
#include "coil/runtime/log.hpp"

namespace {

using coil::backend_kind;

class scoped_env {
public:
    scoped_env(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value) ::setenv(name, value, 1); else ::unsetenv(name);
    }
    ~scoped_env() {
        if (old_.empty()) ::unsetenv(name_); else ::setenv(name_, old_.c_str(), 1);
    }

private:
    const char* name_;
    std::string old_;
};

TEST(BackendSelectTest, ParsesBackendNames) {
    EXPECT_EQ(coil::parse_backend_kind("epoll"), backend_kind::epoll);
    EXPECT_EQ(coil::parse_backend_kind("io_uring"), backend_kind::io_uring);
    EXPECT_FALSE(coil::parse_backend_kind("kqueue"));
    EXPECT_EQ(coil::to_string(backend_kind::epoll), "epoll");
}

TEST(BackendSelectTest, EnvironmentForcesEpoll) {
    scoped_env env("COIL_BACKEND", "epoll");
    coil::event_loop loop(coil::loop_options{backend_kind::io_uring});  // the variable wins
    EXPECT_EQ(loop.backend(), backend_kind::epoll);
    EXPECT_NE(loop.backend_reason().find("COIL_BACKEND"), std::string::npos);
}

TEST(BackendSelectTest, EnvironmentForcesIoUring) {
    if (!coil::backend_available(backend_kind::io_uring)) GTEST_SKIP() << "io_uring unavailable";
    scoped_env env("COIL_BACKEND", "io_uring");
    coil::event_loop loop(coil::loop_options{backend_kind::epoll});
    EXPECT_EQ(loop.backend(), backend_kind::io_uring);
}

TEST(BackendSelectTest, AnUnknownEnvironmentValueIsAClearError) {
    scoped_env env("COIL_BACKEND", "select");
    try {
        coil::event_loop loop;
        FAIL() << "no error";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("select"), std::string::npos);
    }
}

// What this test expects of the probe, found without coil's code: how the build was configured
// (meson passes COIL_TEST_IO_URING_BUILT), then raw io_uring_setup and IORING_REGISTER_PROBE
// syscalls with the ring size and the opcode list that docs/backends.md promises.
struct independent_probe {
    bool io_uring_usable = false;
    std::string why;  // when not usable
};

independent_probe probe_io_uring_by_hand() {
    independent_probe result;
    if (COIL_TEST_IO_URING_BUILT == 0) {
        result.why = "built without io_uring";
        return result;
    }
    io_uring_params params{};
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = 16384;
    const long fd = ::syscall(SYS_io_uring_setup, 1024, &params);
    if (fd < 0) {
        result.why = std::string("io_uring_setup: ") + std::strerror(errno);
        return result;
    }
    constexpr unsigned max_ops = 256;
    std::vector<std::byte> storage(sizeof(io_uring_probe) + max_ops * sizeof(io_uring_probe_op));
    auto* probe = reinterpret_cast<io_uring_probe*>(storage.data());
    const long r = ::syscall(SYS_io_uring_register, static_cast<int>(fd), IORING_REGISTER_PROBE,
                             probe, max_ops);
    ::close(static_cast<int>(fd));
    if (r < 0) {
        result.why = std::string("IORING_REGISTER_PROBE: ") + std::strerror(errno);
        return result;
    }
    for (unsigned op : {IORING_OP_NOP, IORING_OP_READ, IORING_OP_WRITE, IORING_OP_RECV,
                        IORING_OP_SEND, IORING_OP_SENDMSG, IORING_OP_ACCEPT, IORING_OP_CONNECT,
                        IORING_OP_CLOSE, IORING_OP_POLL_ADD, IORING_OP_ASYNC_CANCEL}) {
        if (op > probe->last_op || (probe->ops[op].flags & IO_URING_OP_SUPPORTED) == 0) {
            result.why += " opcode " + std::to_string(op) + " missing";
        }
    }
    result.io_uring_usable = result.why.empty();
    return result;
}

// Was: the expected value came from coil::backend_available(), i.e. from the probe under test.
TEST(BackendSelectTest, WithoutPreferenceTheProbeChoosesIoUringWhereItWorks) {
    scoped_env env("COIL_BACKEND", nullptr);
    const independent_probe by_hand = probe_io_uring_by_hand();
    coil::event_loop loop;
    EXPECT_EQ(loop.backend(), by_hand.io_uring_usable ? backend_kind::io_uring : backend_kind::epoll)
        << "by hand: " << (by_hand.io_uring_usable ? "io_uring usable" : by_hand.why)
        << "; coil: " << loop.backend_reason();
    EXPECT_EQ(coil::backend_available(backend_kind::io_uring), by_hand.io_uring_usable);
}

// ---- Fallback under seccomp, in a child process (the filter cannot be removed again) ----

enum child_status : int {
    ok = 0,
    seccomp_failed = 10,
    wrong_backend = 11,
    io_failed = 12,
    threw = 13,
    wrong_reason = 14,
    fallback_not_warned = 15,
};

void deny_io_uring_setup_with_eperm() {
    // BPF: if the syscall is io_uring_setup, fail it with EPERM; allow everything else.
    std::array<sock_filter, 4> program = {{
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    }};
    sock_fprog prog{static_cast<unsigned short>(program.size()), program.data()};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        std::_Exit(seccomp_failed);
    }
}

coil::task<bool> pipe_round_trip() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) co_return false;
    coil::unique_fd r(fds[0]), w(fds[1]);
    const std::array<std::byte, 3> out{std::byte{1}, std::byte{2}, std::byte{3}};
    auto written = co_await coil::write(w.get(), out);
    if (!written) co_return false;
    std::array<std::byte, 3> in{};
    auto n = co_await coil::read(r.get(), in);
    co_return n && *n == 3 && in == out;
}

// `uring_built_and_working`: whether the parent could use io_uring; then the fallback must be
// because of the filter ("not permitted"), else because there is no io_uring at all.
int run_child(bool uring_built_and_working) {
    ::unsetenv("COIL_BACKEND");
    deny_io_uring_setup_with_eperm();
    try {
        std::string warned;
        coil::set_log_handler([&](coil::log_level level, std::string_view m) {
            if (level == coil::log_level::warning) warned += m;
        });
        coil::event_loop loop;
        if (loop.backend() != backend_kind::epoll) return wrong_backend;
        const char* expected = uring_built_and_working ? "not permitted" : "unavailable";
        if (loop.backend_reason().find(expected) == std::string::npos) return wrong_reason;
        // A fallback is the one backend choice logged at the default level (warning). Where the
        // parent had no io_uring either, it reported the fallback already (once per process).
        if (uring_built_and_working && warned.find("fell back to epoll") == std::string::npos) {
            return fallback_not_warned;
        }
        if (!loop.run(pipe_round_trip())) return io_failed;
    } catch (...) {
        return threw;
    }
    return ok;
}

TEST(BackendSelectTest, FallsBackToEpollWhenSeccompDeniesIoUringSetup) {
    const bool uring_works = probe_io_uring_by_hand().io_uring_usable;
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) std::_Exit(run_child(uring_works));

    // Bounded wait for that PID; kill it if it hangs.
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    pid_t done = 0;
    while ((done = ::waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (done == 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        FAIL() << "the child hung";
    }
    ASSERT_TRUE(WIFEXITED(status)) << "child died from signal " << WTERMSIG(status);
    if (WEXITSTATUS(status) == seccomp_failed) GTEST_SKIP() << "seccomp filters are not allowed here";
    EXPECT_EQ(WEXITSTATUS(status), ok) << "see child_status for the meaning";
}

}  // namespace
