#pragma once
// The blocked-signal mask of every thread of a process, read from /proc/PID/task/TID/status
// ("SigBlk:", a hex mask with bit signo-1 set for each blocked signal; proc(5)). For tests of
// which threads a process-directed signal can reach: the kernel delivers it to any thread that
// does not block it (signal(7)), so a signal_set sees it only if every thread blocks it.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace coil::testing {

struct thread_signal_mask {
    std::string tid;
    std::string name;  // comm: the program's name, or one a thread set (e.g. "coil-pool-0")
    std::uint64_t blocked = 0;

    [[nodiscard]] bool blocks(int signo) const { return ((blocked >> (signo - 1)) & 1U) != 0; }
};

/// One entry per thread of `pid` that still exists while its status is read (a thread that ends
/// meanwhile is left out). Empty if the process is gone.
inline std::vector<thread_signal_mask> thread_signal_masks(pid_t pid) {
    std::vector<thread_signal_mask> out;
    std::error_code ec;
    for (const auto& t : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::ifstream in(t.path() / "status");
        thread_signal_mask m;
        m.tid = t.path().filename().string();
        bool have_mask = false;
        for (std::string line; std::getline(in, line);) {
            if (line.rfind("Name:\t", 0) == 0) m.name = line.substr(6);
            if (line.rfind("SigBlk:\t", 0) == 0) {
                m.blocked = std::stoull(line.substr(8), nullptr, 16);
                have_mask = true;
            }
        }
        if (have_mask) out.push_back(m);
    }
    return out;
}

}  // namespace coil::testing
