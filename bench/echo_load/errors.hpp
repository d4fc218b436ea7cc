#pragma once
// Errors by kind (connect, reset, mismatch, timeout, other), their counts, and how an I/O error
// maps to a kind.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <system_error>

#include "coil/runtime/errc.hpp"

namespace echo_load {

enum class error_kind : std::size_t { connect, reset, mismatch, timeout, other };
constexpr std::array<std::string_view, 5> error_kind_names{"connect", "reset", "mismatch", "timeout",
                                                           "other"};

struct error_counts {
    std::array<std::uint64_t, error_kind_names.size()> by_kind{};

    void add(error_kind kind) noexcept { ++by_kind[static_cast<std::size_t>(kind)]; }
    [[nodiscard]] std::uint64_t total() const noexcept {
        std::uint64_t sum = 0;
        for (const auto n : by_kind) sum += n;
        return sum;
    }
};

inline error_kind classify(std::error_code error) noexcept {
    if (error == coil::errc::eof || error == std::errc::connection_reset ||
        error == std::errc::broken_pipe || error == std::errc::connection_aborted) {
        return error_kind::reset;
    }
    if (error == std::errc::timed_out) return error_kind::timeout;
    return error_kind::other;
}

}  // namespace echo_load
