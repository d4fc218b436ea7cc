// Runtime micro-benchmarks: what one task, one spawn and one awaited operation cost, per backend.
//
//   ./dev microbench            (release build, pinned to CPU 0)
//   build/release/bench/runtime_bench --benchmark_filter=Nop
//
// Each benchmark runs once per backend (the /io_uring or /epoll suffix); a backend this machine
// lacks is reported as skipped. Figures are per item: per task, per spawn, per round trip.

#include <benchmark/benchmark.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>

#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/io.hpp"
#include "coil/runtime/log.hpp"
#include "coil/runtime/sleep.hpp"
#include "coil/runtime/task.hpp"
#include "coil/runtime/thread_pool.hpp"

namespace {

using coil::task;

coil::backend_kind kind_of(const benchmark::State& state) {
    return state.range(0) == 0 ? coil::backend_kind::io_uring : coil::backend_kind::epoll;
}

// Runs `body(state)` as a task on a loop of the benchmark's backend.
template <class Body>
void on_loop(benchmark::State& state, Body body) {
    const auto kind = kind_of(state);
    if (!coil::backend_available(kind)) {
        state.SkipWithError("backend unavailable");
        return;
    }
    state.SetLabel(std::string(coil::to_string(kind)));
    coil::event_loop loop(coil::loop_options{kind});
    loop.run(body(state));
    state.SetItemsProcessed(state.iterations());
}

task<int> returns_value(int v) { co_return v; }

// Creating, awaiting and finishing a task that completes without suspending.
void BM_AwaitCompletedTask(benchmark::State& state) {
    on_loop(state, [](benchmark::State& s) -> task<void> {
        int sum = 0;
        for (auto _ : s) sum += co_await returns_value(1);
        benchmark::DoNotOptimize(sum);
    });
}

task<void> count_one(std::size_t& done) {
    ++done;
    co_return;
}

// spawn() of an empty task plus its run to completion on the loop. Every 64 spawns the driver
// yields once so the loop runs them; that yield is amortised into the figure.
void BM_SpawnAndComplete(benchmark::State& state) {
    on_loop(state, [](benchmark::State& s) -> task<void> {
        std::size_t spawned = 0;
        std::size_t done = 0;
        for (auto _ : s) {
            coil::spawn(count_one(done));
            if (++spawned % 64 == 0) co_await coil::yield();
        }
        while (done < spawned) co_await coil::yield();
    });
}

// One yield: the task goes through the ready queue and a loop turn (which polls the backend).
void BM_Yield(benchmark::State& state) {
    on_loop(state, [](benchmark::State& s) -> task<void> {
        for (auto _ : s) co_await coil::yield();
    });
}

// One awaited no-op through the backend. io_uring: a NOP SQE, one io_uring_enter, its CQE, a
// resume. epoll: completes inline (there is nothing to wait for), so this is the awaiter's floor.
void BM_NopRoundTrip(benchmark::State& state) {
    on_loop(state, [](benchmark::State& s) -> task<void> {
        for (auto _ : s) {
            auto r = co_await coil::nop();
            benchmark::DoNotOptimize(r);
        }
    });
}

// An eventfd write (plain syscall) and an awaited read of it: one real I/O round trip.
void BM_EventfdRoundTrip(benchmark::State& state) {
    on_loop(state, [](benchmark::State& s) -> task<void> {
        coil::unique_fd efd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
        std::uint64_t value = 1;
        std::array<std::byte, 8> buf{};
        for (auto _ : s) {
            [[maybe_unused]] auto w = ::write(efd.get(), &value, sizeof value);
            auto r = co_await coil::read(efd.get(), buf);
            benchmark::DoNotOptimize(r);
        }
    });
}

// 64 bytes sent and received over a socketpair, both awaited.
void BM_SocketPairSendRecv64(benchmark::State& state) {
    on_loop(state, [](benchmark::State& s) -> task<void> {
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) co_return;
        coil::unique_fd a(fds[0]), b(fds[1]);
        std::array<std::byte, 64> out{}, in{};
        for (auto _ : s) {
            auto sent = co_await coil::send(a.get(), out);
            auto got = co_await coil::recv(b.get(), in);
            benchmark::DoNotOptimize(sent);
            benchmark::DoNotOptimize(got);
        }
    });
}

// The offload round trip: co_await pool.run(trivial fn) on a one-thread pool. Queue under a
// mutex, condition-variable wake of the (sleeping) pool thread, the call, event_loop::post back
// (the loop's eventfd wake: an eventfd write from the pool thread, the loop's read or epoll_wait
// returns), the resume. So two cross-thread wakes per item. Compare bench/wake_bench.cpp for
// the wake alone, eventfd vs IORING_OP_MSG_RING.
void BM_OffloadRoundTrip(benchmark::State& state) {
    coil::thread_pool pool({.threads = 1, .queue_capacity = 16});
    on_loop(state, [&pool](benchmark::State& s) -> task<void> {
        int sum = 0;
        for (auto _ : s) {
            auto r = co_await pool.run([] { return 1; });
            sum += *r;
        }
        benchmark::DoNotOptimize(sum);
    });
}

void backends(benchmark::internal::Benchmark* b) { b->Arg(0)->Arg(1)->ArgName("backend"); }

BENCHMARK(BM_AwaitCompletedTask)->Apply(backends);
BENCHMARK(BM_SpawnAndComplete)->Apply(backends);
BENCHMARK(BM_Yield)->Apply(backends);
BENCHMARK(BM_NopRoundTrip)->Apply(backends);
BENCHMARK(BM_EventfdRoundTrip)->Apply(backends);
BENCHMARK(BM_SocketPairSendRecv64)->Apply(backends);
BENCHMARK(BM_OffloadRoundTrip)->Apply(backends)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
    coil::set_log_level(coil::log_level::warning);  // no backend line in the table
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
