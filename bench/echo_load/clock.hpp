#pragma once
// echo_load's time: `nanos`, monotonic time and durations in nanoseconds on coil's clock, and the
// conversions to coil's time points and to and from seconds.

#include <chrono>
#include <cmath>
#include <cstdint>

#include "coil/runtime/sleep.hpp"

namespace echo_load {

using nanos = std::int64_t;  // monotonic time and durations, in nanoseconds

inline nanos now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(coil::clock::now().time_since_epoch())
        .count();
}

inline coil::clock::time_point to_time_point(nanos t) noexcept {
    return coil::clock::time_point(
        std::chrono::duration_cast<coil::clock::duration>(std::chrono::nanoseconds(t)));
}

inline nanos seconds_to_ns(double seconds) noexcept { return static_cast<nanos>(std::llround(seconds * 1e9)); }

inline double ns_to_seconds(nanos t) noexcept { return static_cast<double>(t) / 1e9; }

}  // namespace echo_load
