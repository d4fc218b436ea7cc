#pragma once
// The examples' shared command-line helpers: just enough to parse "--flag VALUE" pairs, so that
// each example's main() shows coil and not argument parsing. Not part of coil.

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace examples {

struct args {
    int argc;
    char** argv;
    std::string_view program;
    std::string_view usage;  // printed by --help (to stdout, exit 0) and after a usage error

    [[noreturn]] void fail(const std::string& message) const {
        std::fprintf(stderr, "%.*s: %s\n%.*s", static_cast<int>(program.size()), program.data(),
                     message.c_str(), static_cast<int>(usage.size()), usage.data());
        std::exit(2);
    }

    [[noreturn]] void help() const {
        std::fwrite(usage.data(), 1, usage.size(), stdout);
        std::exit(0);
    }

    /// The value after argv[i] (advancing i), or a usage error.
    std::string_view value(int& i) const {
        if (i + 1 >= argc) fail(std::string(argv[i]) + " needs a value");
        return argv[++i];
    }

    /// A whole number in [lo, hi] after argv[i] (advancing i), or a usage error.
    long number(int& i, long lo, long hi) const {
        const std::string_view flag = argv[i];
        const std::string_view text = value(i);
        long n = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), n);
        if (error != std::errc{} || end != text.data() + text.size() || n < lo || n > hi) {
            fail(std::string(flag) + ": expected a number from " + std::to_string(lo) + " to " +
                 std::to_string(hi) + ", not '" + std::string(text) + "'");
        }
        return n;
    }
};

}  // namespace examples
