// The log hook's level filter: quiet by default (warning and above), so that a coil program
// prints nothing on a normal start; the backend choice is an info message, seen on request.
#include "coil/runtime/log.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "coil/runtime/backend_kind.hpp"
#include "coil/runtime/event_loop.hpp"

namespace {

struct captured {
    coil::log_level level;
    std::string message;
};

// Installs a handler that records every message passing the level filter; restores on exit.
class capture_log {
public:
    capture_log() {
        previous_handler_ = coil::set_log_handler(
            [this](coil::log_level level, std::string_view m) { lines.push_back({level, std::string(m)}); });
        previous_level_ = coil::get_log_level();
    }
    ~capture_log() {
        coil::set_log_handler(std::move(previous_handler_));
        coil::set_log_level(previous_level_);
    }
    capture_log(const capture_log&) = delete;
    capture_log& operator=(const capture_log&) = delete;

    std::vector<captured> lines;

private:
    coil::log_handler previous_handler_;
    coil::log_level previous_level_;
};

// Runs first in its own binary: nothing has changed the level yet.
TEST(LogTest, DefaultLevelIsWarning) { EXPECT_EQ(coil::get_log_level(), coil::log_level::warning); }

TEST(LogTest, ByDefaultInfoAndDebugAreDroppedAndWarningsDelivered) {
    capture_log log;
    coil::set_log_level(coil::log_level::warning);
    coil::log(coil::log_level::debug, "d");
    coil::log(coil::log_level::info, "i");
    coil::log(coil::log_level::warning, "w");
    coil::log(coil::log_level::error, "e");
    ASSERT_EQ(log.lines.size(), 2u);
    EXPECT_EQ(log.lines[0].message, "w");
    EXPECT_EQ(log.lines[1].message, "e");
}

TEST(LogTest, SetLogLevelLowersTheFilter) {
    capture_log log;
    coil::set_log_level(coil::log_level::debug);
    EXPECT_EQ(coil::get_log_level(), coil::log_level::debug);
    coil::log(coil::log_level::debug, "d");
    ASSERT_EQ(log.lines.size(), 1u);
    EXPECT_EQ(log.lines[0].level, coil::log_level::debug);
}

// The one event loop this binary creates (the report is once per process): the probe's choice is
// reported as an info message, so the default level hides it, except a fallback from a built-in
// io_uring to epoll, a warning. In an epoll-only build (-Dio_uring=disabled) epoll is no fallback.
TEST(LogTest, BackendChoiceIsInfoAndOnlyAFallbackIsAWarning) {
    capture_log log;
    coil::set_log_level(coil::log_level::debug);
    coil::event_loop loop;
    const bool forced = std::getenv("COIL_BACKEND") != nullptr;
    const bool fell_back = COIL_IO_URING_BUILT != 0 && !forced && loop.backend() == coil::backend_kind::epoll;
    ASSERT_EQ(log.lines.size(), 1u);
    EXPECT_EQ(log.lines[0].level, fell_back ? coil::log_level::warning : coil::log_level::info);
    const std::string expected = "backend " + std::string(coil::to_string(loop.backend()));
    EXPECT_NE(log.lines[0].message.find(expected), std::string::npos) << log.lines[0].message;
    EXPECT_FALSE(loop.backend_reason().empty());
}

}  // namespace
