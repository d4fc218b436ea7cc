// Trial of loop_group's error paths as documented in runtime/loop_group.hpp (issue 11).
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <coil/coil.hpp>

using namespace std::chrono_literals;

static int failures = 0;
#define CHECK(c)                                                     \
    do {                                                             \
        if (!(c)) {                                                  \
            std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); \
            ++failures;                                              \
        }                                                            \
    } while (0)

coil::task<void> idle(std::size_t) {
    (void)co_await coil::sleep_for(std::chrono::hours(1));
}

int main() {
    try {
        coil::loop_group g({.threads = 0}, idle);
        CHECK(false);
    } catch (const std::invalid_argument& e) {
        std::printf("threads=0: invalid_argument: %s\n", e.what());
    }
    try {
        coil::loop_group g({.threads = 1, .cpus = {5000}}, idle);
        CHECK(false);
    } catch (const std::invalid_argument& e) {
        std::printf("cpu 5000: invalid_argument: %s\n", e.what());
    }
    try {
        coil::loop_group g({.threads = 1, .cpus = {1000}}, idle);
        CHECK(false);
    } catch (const std::system_error& e) {
        std::printf("cpu 1000: system_error: %s (%d)\n", e.what(), e.code().value());
    }
    {
        coil::loop_group g({.threads = 2, .cpus = {0}}, idle);  // both on cpu 0
        std::printf("pinned both to cpu 0: size %zu\n", g.size());
        try {
            (void)g.loop(2);
            CHECK(false);
        } catch (const std::out_of_range& e) {
            std::printf("loop(2): out_of_range: %s\n", e.what());
        }
        g.stop();
        try {
            (void)g.loop(0);
            CHECK(false);
        } catch (const std::logic_error& e) {
            std::printf("loop(0) after stop: logic_error: %s\n", e.what());
        }
    }
    {
        // An entry exception stops the group and is rethrown by join.
        auto t0 = std::chrono::steady_clock::now();
        coil::loop_group g({.threads = 2}, [](std::size_t i) -> coil::task<void> {
            if (i == 1) {
                co_await coil::sleep_for(20ms);
                throw std::runtime_error("loop 1 failed");
            }
            (void)co_await coil::sleep_for(std::chrono::hours(1));
        });
        try {
            g.join();
            CHECK(false);
        } catch (const std::runtime_error& e) {
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
            std::printf("join rethrew: %s after %lld ms\n", e.what(), (long long)ms.count());
        }
    }
    {
        // Entry ends on its own on both loops: join returns without request_stop.
        coil::loop_group g({.threads = 2}, [](std::size_t) -> coil::task<void> { co_return; });
        g.join();
        std::printf("entries ended on their own: joined\n");
    }
    {
        // Destructor without stop: stops and joins.
        coil::loop_group g({.threads = 2}, idle);
    }
    std::printf("destructor stopped the group\n");
    std::printf("%s (%d failures)\n", failures ? "FAILED" : "OK", failures);
    return failures ? 1 : 0;
}
