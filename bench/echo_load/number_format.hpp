#pragma once
// Numbers as text for the progress lines and the report: thousands separators, printf formats.

#include <cstdint>
#include <string>

namespace echo_load {

// 1234567 -> "1,234,567".
std::string with_separators(std::uint64_t value);

// One double through a printf pattern ("%.3f").
std::string format(const char* pattern, double value);

}  // namespace echo_load
