#pragma once
// Saturating time arithmetic for deadlines: every duration or time point a user hands to coil
// passes through here before it reaches a timer or a backend.
//
// The loop's clock counts int64 nanoseconds (about ±292 years). A duration or time point beyond
// that range is clamped to the representable extreme instead of overflowing (signed overflow is
// undefined, and in practice wrapped "in an hour" around into "long ago", firing at once):
// - anything later than the clock can represent becomes clock::time_point::max(), which coil
//   treats as "never" (see never_expires);
// - anything earlier becomes clock::time_point::min(): already due.
// A NaN floating-point duration is taken as zero (due at once).
// Threading: pure functions.

#include <chrono>
#include <cmath>
#include <cstdint>
#include <ratio>
#include <type_traits>

namespace coil::detail {

using clock = std::chrono::steady_clock;
static_assert(std::is_same_v<clock::duration, std::chrono::nanoseconds>);

/// `d` in the clock's unit, rounded up (a sleep never ends early), clamped to its range.
template <class Rep, class Period>
clock::duration to_clock_duration(std::chrono::duration<Rep, Period> d) noexcept {
    using ns = clock::duration;
    if constexpr (std::is_floating_point_v<Rep>) {
        if (std::isnan(d.count())) return ns::zero();
    }
    // Compared in long double, whose 64-bit mantissa holds any int64 exactly: a comparison in
    // the common chrono type would itself overflow (hours::max() in nanoseconds).
    const long double value = std::chrono::duration<long double, std::nano>(d).count();
    constexpr auto hi = static_cast<long double>(ns::max().count());
    constexpr auto lo = static_cast<long double>(ns::min().count());
    if (value >= hi) return ns::max();
    if (value <= lo) return ns::min();
    if constexpr (std::is_floating_point_v<Rep>) {
        return ns(static_cast<ns::rep>(std::ceil(value)));
    } else {
        return std::chrono::ceil<ns>(d);  // in range: exact
    }
}

/// `t` on the clock's time point type, clamped like to_clock_duration.
template <class Duration>
clock::time_point to_clock_time_point(std::chrono::time_point<clock, Duration> t) noexcept {
    return clock::time_point(to_clock_duration(t.time_since_epoch()));
}

/// `t + d`, clamped to [time_point::min(), time_point::max()].
inline clock::time_point saturating_add(clock::time_point t, clock::duration d) noexcept {
    std::int64_t sum = 0;
    if (__builtin_add_overflow(t.time_since_epoch().count(), d.count(), &sum)) {
        return d.count() > 0 ? clock::time_point::max() : clock::time_point::min();
    }
    return clock::time_point(clock::duration(sum));
}

/// How long from `now` until `deadline`: zero if it has passed, clamped to duration::max().
inline clock::duration time_until(clock::time_point deadline, clock::time_point now) noexcept {
    if (deadline <= now) return clock::duration::zero();
    std::int64_t diff = 0;
    if (__builtin_sub_overflow(deadline.time_since_epoch().count(), now.time_since_epoch().count(),
                               &diff)) {
        return clock::duration::max();
    }
    return clock::duration(diff);
}

/// A deadline that never expires: the saturated "later than the clock can represent".
/// No timer is armed for it; only cancellation ends a wait on it.
inline bool never_expires(clock::time_point deadline) noexcept {
    return deadline == clock::time_point::max();
}

}  // namespace coil::detail
