// Numbers as text: thousands separators and printf-formatted doubles.

#include "bench/echo_load/number_format.hpp"

#include <array>
#include <cstddef>
#include <cstdio>

namespace echo_load {

std::string with_separators(std::uint64_t value) {
    const std::string digits = std::to_string(value);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

std::string format(const char* pattern, double value) {
    std::array<char, 64> text{};
    std::snprintf(text.data(), text.size(), pattern, value);
    return text.data();
}

}  // namespace echo_load
