#pragma once
// A program started by a test: its stdout is a pipe, it is stopped by its PID, and every wait is
// bounded. The destructor kills and reaps it if the test did not.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace coil::testing {

struct child_limits {
    std::optional<unsigned long> max_open_files;  // RLIMIT_NOFILE (soft and hard) in the child
    bool merge_stderr = false;                    // the child's stderr goes to the stdout pipe too
};

class child_process {
public:
    /// Starts `argv` (argv[0] is the path). Aborts the test on failure.
    explicit child_process(std::vector<std::string> argv, child_limits limits = {});
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    /// Whether a wait() or stop() saw it end (its PID is then no longer ours to signal).
    [[nodiscard]] bool reaped() const noexcept { return reaped_; }
    /// The next line of stdout, without the newline; nullopt at EOF or after `timeout`.
    std::optional<std::string> read_line(std::chrono::milliseconds timeout);
    /// Sends `signo` and waits up to `timeout` for the exit; the exit code, or nullopt if it did
    /// not exit (it is then killed) or died from a signal.
    std::optional<int> stop(int signo, std::chrono::milliseconds timeout);
    /// Waits up to `timeout` for the exit without signalling.
    std::optional<int> wait(std::chrono::milliseconds timeout);

private:
    pid_t pid_ = -1;
    int stdout_fd_ = -1;
    std::string buffered_;
    bool reaped_ = false;
    int status_ = 0;
};

/// The port in a "listening on ADDR:PORT" line, or 0.
unsigned short port_of_listening_line(const std::string& line);

// ---- Forked children: for tests whose wrong outcome kills the process (e.g. a signal delivered
// ---- with its default action). The test process itself survives and reports how the child ended.

/// How a forked child ended: exactly one of exit_code, killed_by (a signal) or timed_out.
struct fork_outcome {
    std::optional<int> exit_code;
    std::optional<int> killed_by;
    bool timed_out = false;
};

/// Runs `body` in a forked child (no exec: it sees this process's memory and signal mask) and
/// waits up to `timeout` for it. The child exits with body's return value through _exit (no
/// atexit handlers, no gtest teardown), or 125 if body throws; it is killed by its PID if it
/// overruns. Call it from a single-threaded test only.
fork_outcome run_in_fork(const std::function<int()>& body, std::chrono::milliseconds timeout);

}  // namespace coil::testing
