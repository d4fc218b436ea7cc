// The stuck guard: a detached thread that writes one line and _Exit()s with exit_stuck if the run
// is still going 5 s after the hard deadline.

#include "bench/echo_load/stuck_guard.hpp"

#include <unistd.h>

#include <cstdlib>
#include <string_view>
#include <thread>

#include "bench/echo_load/exit_codes.hpp"

namespace echo_load {
namespace {

constexpr nanos stuck_grace = 5'000'000'000;  // after the hard deadline, before giving up hard

}  // namespace

std::atomic<bool> run_over{false};

void start_stuck_guard(nanos hard_deadline) {
    std::thread([hard_deadline] {
        std::this_thread::sleep_until(to_time_point(hard_deadline + stuck_grace));
        if (run_over.load()) return;
        constexpr std::string_view message =
            "echo_load: error: still running 5 s after the hard deadline; giving up\n";
        (void)!::write(STDERR_FILENO, message.data(), message.size());
        std::_Exit(exit_stuck);
    }).detach();
}

}  // namespace echo_load
