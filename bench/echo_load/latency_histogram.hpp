#pragma once
// The latency histogram: log-linear buckets, 64 per power of two (at most 1.6% wide), 0 to 60 s,
// with percentiles read from the bucket middles.

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "bench/echo_load/clock.hpp"

namespace echo_load {

constexpr int histogram_sub_bits = 6;
constexpr std::uint64_t histogram_sub_count = std::uint64_t{1} << histogram_sub_bits;
constexpr std::uint64_t histogram_max_ns = 60'000'000'000;

// Values below 2 * 64 ns get a bucket each; above, a power of two [2^e, 2^(e+1)) is cut into 64.
constexpr std::size_t histogram_bucket_of(std::uint64_t value) noexcept {
    if (value < 2 * histogram_sub_count) return static_cast<std::size_t>(value);
    const int exponent = std::bit_width(value) - 1;
    const int shift = exponent - histogram_sub_bits;
    return static_cast<std::size_t>(static_cast<std::uint64_t>(shift + 1) * histogram_sub_count +
                                    ((value >> shift) - histogram_sub_count));
}

constexpr std::size_t histogram_bucket_count = histogram_bucket_of(histogram_max_ns) + 1;

class latency_histogram {
public:
    void record(nanos latency) noexcept {
        const auto value = static_cast<std::uint64_t>(std::max<nanos>(latency, 0));
        ++counts_[histogram_bucket_of(std::min(value, histogram_max_ns))];
        ++count_;
        max_ = std::max(max_, value);
    }

    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    [[nodiscard]] double max_us() const noexcept { return static_cast<double>(max_) / 1e3; }

    /// The value below which a fraction `q` of the samples lie (bucket middle), in microseconds.
    [[nodiscard]] double percentile_us(double q) const noexcept {
        if (count_ == 0) return 0.0;
        const auto rank = std::clamp<std::uint64_t>(
            static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))), 1, count_);
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < counts_.size(); ++i) {
            seen += counts_[i];
            if (seen >= rank) {
                const double middle = static_cast<double>(bucket_low(i)) +
                                      static_cast<double>(bucket_width(i) - 1) / 2.0;
                return std::min(middle, static_cast<double>(max_)) / 1e3;
            }
        }
        return max_us();
    }

private:
    static std::uint64_t bucket_low(std::size_t index) noexcept {
        if (index < 2 * histogram_sub_count) return index;
        const std::uint64_t shift = index / histogram_sub_count - 1;
        return (histogram_sub_count + index % histogram_sub_count) << shift;
    }
    static std::uint64_t bucket_width(std::size_t index) noexcept {
        if (index < 2 * histogram_sub_count) return 1;
        return std::uint64_t{1} << (index / histogram_sub_count - 1);
    }

    std::array<std::uint64_t, histogram_bucket_count> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t max_ = 0;
};

}  // namespace echo_load
