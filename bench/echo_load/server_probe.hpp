#pragma once
// The server's CPU time and memory, read from /proc/PID (schedstat, stat, status).

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace echo_load {

/// The whole of a small file (a /proc file), or nothing if it cannot be read.
std::optional<std::string> read_small_file(const std::string& path);

// Reads a process's CPU time: schedstat (ns, summed over its threads) when the kernel has it,
// else utime + stime from /proc/PID/stat. Whichever works first is used for every sample.
class server_probe {
public:
    explicit server_probe(pid_t pid);

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }

    [[nodiscard]] std::optional<double> cpu_seconds() const {
        return use_schedstat_ ? cpu_from_schedstat() : cpu_from_stat();
    }

    [[nodiscard]] std::optional<std::uint64_t> rss_kb() const;

private:
    [[nodiscard]] std::optional<double> cpu_from_schedstat() const;
    [[nodiscard]] std::optional<double> cpu_from_stat() const;

    pid_t pid_;
    std::string dir_;
    bool use_schedstat_ = false;
};

}  // namespace echo_load
