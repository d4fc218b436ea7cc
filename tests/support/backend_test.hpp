#pragma once
// Test kit: a fixture that runs a test once per backend, and checks that the test leaked no fd.
//
//     class SocketTest : public coil::testing::BackendTest {};
//     TEST_P(SocketTest, Something) { run([]() -> coil::task<void> { ... }()); }
//     COIL_INSTANTIATE_BACKEND_TEST(SocketTest);
//
// A backend this machine lacks is skipped visibly (GTEST_SKIP with the reason). Timer and
// ordering tests use run_paused() (the loop's manual clock) instead of real sleeps.

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "coil/runtime/backend_kind.hpp"
#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/task.hpp"

namespace coil::testing {

/// Number of open fds of this process (entries of /proc/self/fd).
int open_fd_count();

class BackendTest : public ::testing::TestWithParam<backend_kind> {
protected:
    void SetUp() override;
    void TearDown() override;

    [[nodiscard]] backend_kind backend() const { return GetParam(); }
    [[nodiscard]] loop_options options() const {
        loop_options o;
        o.backend = GetParam();
        return o;
    }
    /// This test's backend with the loop's clock paused (see loop_options::paused_clock): timers
    /// fire in deadline order as soon as the loop is idle, with no real waiting.
    [[nodiscard]] loop_options paused_options() const {
        loop_options o = options();
        o.paused_clock = true;
        return o;
    }

    /// Runs `t` on a fresh loop of this test's backend.
    template <class T>
    T run(task<T> t) {
        return coil::run(std::move(t), options());
    }
    /// Runs `t` on a fresh loop of this test's backend, with a paused clock.
    template <class T>
    T run_paused(task<T> t) {
        return coil::run(std::move(t), paused_options());
    }

private:
    int fds_before_ = -1;
};

std::string backend_name(const ::testing::TestParamInfo<backend_kind>& info);

}  // namespace coil::testing

#define COIL_INSTANTIATE_BACKEND_TEST(suite)                                            \
    INSTANTIATE_TEST_SUITE_P(AllBackends, suite,                                       \
                             ::testing::ValuesIn(::coil::all_backend_kinds()),          \
                             ::coil::testing::backend_name)
