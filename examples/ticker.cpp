// ticker: a periodic task that reports statistics, stopped gracefully by SIGINT or SIGTERM.
//
// Shows: a drift-free periodic timer (sleep_until on a schedule, not sleep_for after the work),
// a cancelled sleep as the way a periodic task learns of shutdown (operation_canceled), and
// when_any pairing the work with coil::signal_set so that a signal ends the run cleanly: the
// ticker finishes, prints its summary, and the program exits 0.
// Try it:  build/examples/ticker --interval 500     and press Ctrl-C (or: kill -TERM <pid>)
// Flags:   --interval MS (default 1000), --count N (stop after N ticks; default 0: until a
//          signal), --verbose, --help. Output: one "tick N ..." line per tick, then a summary.

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>

#include <coil/coil.hpp>

#include "args.hpp"

using namespace std::chrono_literals;

namespace {

constexpr std::string_view usage =
    "usage: ticker [--interval MS] [--count N] [--verbose] [--help]\n"
    "  --interval MS   time between ticks (default 1000)\n"
    "  --count N       stop after N ticks (default 0: run until SIGINT/SIGTERM)\n"
    "  --verbose       log which backend coil chose and why\n"
    "Prints 'tick N: ...' per tick with how late the timer fired, then a summary; exits 0.\n";

struct stats {
    long ticks = 0;
    coil::clock::duration total_late{};
    coil::clock::duration max_late{};
};

long to_us(coil::clock::duration d) {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

coil::task<void> tick(std::chrono::milliseconds interval, long count, stats& s) {
    auto next = coil::clock::now();
    while (count == 0 || s.ticks < count) {
        next += interval;  // a schedule: a late tick does not delay the ones after it
        auto slept = co_await coil::sleep_until(next);
        if (!slept) co_return;  // operation_canceled: a signal arrived; stop between ticks
        const auto late = coil::clock::now() - next;
        ++s.ticks;
        s.total_late += late;
        s.max_late = std::max(s.max_late, late);
        std::printf("tick %ld: %ld us late (max %ld us)\n", s.ticks, to_us(late), to_us(s.max_late));
        std::fflush(stdout);
    }
}

coil::task<void> until_signal(coil::signal_set& signals, int& signo) {
    auto got = co_await signals.wait();
    if (got) signo = *got;
}

coil::task<int> run(std::chrono::milliseconds interval, long count, coil::signal_set& signals) {
    stats s;
    int signo = 0;
    // Whichever finishes first wins; the other is cancelled and awaited before when_any returns.
    (void)co_await coil::when_any(tick(interval, count, s), until_signal(signals, signo));
    std::printf("stopped (%s) after %ld ticks; mean %ld us late, max %ld us\n",
                signo != 0 ? strsignal(signo) : "count reached", s.ticks,
                s.ticks != 0 ? to_us(s.total_late / s.ticks) : 0L, to_us(s.max_late));
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const examples::args args{argc, argv, "ticker", usage};
    std::chrono::milliseconds interval{1000};
    long count = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") args.help();
        else if (arg == "--interval") interval = std::chrono::milliseconds(args.number(i, 1, 3'600'000));
        else if (arg == "--count") count = args.number(i, 0, 1'000'000'000);
        else if (arg == "--verbose") coil::set_log_level(coil::log_level::info);
        else args.fail("unknown argument '" + std::string(arg) + "'");
    }
    coil::event_loop loop;
    coil::signal_set signals({SIGINT, SIGTERM});
    return loop.run(run(interval, count, signals));
}
