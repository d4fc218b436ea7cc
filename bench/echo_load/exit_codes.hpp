#pragma once
// echo_load's exit statuses (listed in the usage text, see options.cpp).

namespace echo_load {

constexpr int exit_ok = 0;
constexpr int exit_run_failed = 1;
constexpr int exit_usage = 2;
constexpr int exit_stuck = 3;
constexpr int exit_interrupted = 130;

}  // namespace echo_load
