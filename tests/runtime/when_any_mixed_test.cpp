// when_any over tasks of different value types: a std::variant whose index is the winner's.
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <variant>

#include "coil/runtime.hpp"
#include "support/backend_test.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;

class WhenAnyMixedTest : public coil::testing::BackendTest {};

task<int> int_after(std::chrono::milliseconds d, int v, bool& cancelled) {
    auto slept = co_await coil::sleep_for(d);
    cancelled = !slept;
    co_return v;
}
task<std::string> string_after(std::chrono::milliseconds d, std::string v) {
    co_await coil::sleep_for(d);
    co_return v;
}
task<void> void_after(std::chrono::milliseconds d) { co_await coil::sleep_for(d); }

TEST_P(WhenAnyMixedTest, TheFirstToFinishWinsAndTheOthersAreCancelled) {
    auto body = []() -> task<void> {
        bool int_cancelled = false;
        auto first = co_await coil::when_any(int_after(10ms, 7, int_cancelled), string_after(5ms, "five"),
                                             void_after(20ms));
        static_assert(std::is_same_v<decltype(first), std::variant<int, std::string, std::monostate>>);
        EXPECT_EQ(first.index(), 1u);
        EXPECT_EQ(std::get<1>(first), "five");
        EXPECT_TRUE(int_cancelled);
        EXPECT_EQ(coil::event_loop::current()->armed_timers(), 0u);
    };
    run_paused(body());
}

TEST_P(WhenAnyMixedTest, DuplicateTypesAreToldApartByIndexAndVoidIsMonostate) {
    auto body = []() -> task<void> {
        bool a = false;
        bool b = false;
        auto third = co_await coil::when_any(int_after(10ms, 1, a), string_after(9ms, "x"), int_after(2ms, 3, b));
        EXPECT_EQ(third.index(), 2u);
        EXPECT_EQ(std::get<2>(third), 3);
        auto nothing = co_await coil::when_any(void_after(1ms), string_after(9ms, "y"));
        EXPECT_EQ(nothing.index(), 0u);
    };
    run_paused(body());
}

TEST_P(WhenAnyMixedTest, TheWinnersExceptionIsRethrown) {
    auto body = []() -> task<void> {
        auto throws = []() -> task<double> {
            co_await coil::sleep_for(1ms);
            throw std::runtime_error("first");
        };
        bool thrown = false;
        try {
            auto unused = co_await coil::when_any(throws(), string_after(5ms, "late"));
            ADD_FAILURE() << "no exception; winner " << unused.index();
        } catch (const std::runtime_error&) {
            thrown = true;
        }
        EXPECT_TRUE(thrown);
    };
    run_paused(body());
}

}  // namespace

COIL_INSTANTIATE_BACKEND_TEST(WhenAnyMixedTest);
