// The cross-thread wake a thread_pool job's completion needs, alone: eventfd vs IORING_OP_MSG_RING.
//
//   build/release/bench/wake_bench
//
// The benchmark thread plays the loop: an io_uring set up as coil's backend sets up its ring
// (SINGLE_ISSUER | DEFER_TASKRUN, falling back to plain), waiting in io_uring_enter. A second
// thread plays the pool thread: it sleeps on a condition variable (as coil's pool threads do);
// each item wakes it (notify) and it wakes the loop back:
//  - Eventfd: write(2) on an eventfd the loop ring has a read armed on (what event_loop::post does
//    on the io_uring backend today); the loop re-arms the read in the same io_uring_enter that
//    waits.
//  - MsgRing: io_uring_prep_msg_ring from the pool thread's own small ring into the loop ring
//    (kernel 5.18+; IOSQE_CQE_SKIP_SUCCESS, so the sender reaps nothing): a CQE appears in the
//    loop ring, no fd, no re-arm.
//  - SyncMsgRing: the same message with no sender ring, io_uring_register(2)
//    IORING_REGISTER_SEND_MSG_RING (Linux 6.13+): what coil's loops use.
//  - CoilPostRoundTrip/msg_ring:0|1: the same through coil's event_loop::post, eventfd vs
//    MSG_RING (loop_options::wake_msg_ring), as an offload's completion pays it.
// Figures are per round trip (notify + wake back), real time. Skipped where MSG_RING is missing.

#include <benchmark/benchmark.h>
#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/sync/event.hpp"
#include "coil/runtime/task.hpp"

namespace {

constexpr std::uint64_t wake_tag = 7;

bool init_loop_ring(io_uring& ring) {
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    if (io_uring_queue_init_params(64, &ring, &p) == 0) return true;
    io_uring_params plain{};
    return io_uring_queue_init_params(64, &ring, &plain) == 0;
}

// The pool thread's side: wait for a request, then call `wake` once.
class pool_thread {
public:
    template <class Wake>
    explicit pool_thread(Wake wake)
        : thread_([this, wake]() mutable {
              std::unique_lock lock(mutex_);
              for (;;) {
                  cv_.wait(lock, [&] { return quit_ || requested_ > served_; });
                  if (quit_) return;
                  ++served_;
                  lock.unlock();
                  wake();
                  lock.lock();
              }
          }) {}
    ~pool_thread() {
        {
            std::lock_guard lock(mutex_);
            quit_ = true;
        }
        cv_.notify_one();
        thread_.join();
    }
    void request() {
        {
            std::lock_guard lock(mutex_);
            ++requested_;
        }
        cv_.notify_one();
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::uint64_t requested_ = 0;
    std::uint64_t served_ = 0;
    bool quit_ = false;
    std::thread thread_;  // last: starts after the rest exists
};

void BM_WakeEventfd(benchmark::State& state) {
    io_uring ring;
    if (!init_loop_ring(ring)) {
        state.SkipWithError("io_uring unavailable");
        return;
    }
    const int efd = ::eventfd(0, EFD_CLOEXEC);
    std::uint64_t sink = 0;
    auto arm = [&] {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring);
        io_uring_prep_read(sqe, efd, &sink, sizeof sink, 0);
        io_uring_sqe_set_data64(sqe, wake_tag);
    };
    {
        pool_thread pool([efd] {
            const std::uint64_t one = 1;
            [[maybe_unused]] auto r = ::write(efd, &one, sizeof one);
        });
        arm();
        for (auto _ : state) {
            pool.request();
            io_uring_submit_and_wait(&ring, 1);
            io_uring_cqe* cqe = nullptr;
            io_uring_peek_cqe(&ring, &cqe);
            benchmark::DoNotOptimize(cqe->res);
            io_uring_cqe_seen(&ring, cqe);
            arm();  // submitted by the next wait
        }
    }
    io_uring_submit(&ring);  // drain the last armed read: wake it once more
    const std::uint64_t one = 1;
    [[maybe_unused]] auto w = ::write(efd, &one, sizeof one);
    io_uring_cqe* cqe = nullptr;
    io_uring_wait_cqe(&ring, &cqe);
    io_uring_queue_exit(&ring);
    ::close(efd);
    state.SetItemsProcessed(state.iterations());
}

// The measured loop of the message benchmarks: ask the pool thread for a message, wait for its
// CQE in the loop ring, consume it.
void measure_message_round_trips(benchmark::State& state, io_uring& ring, pool_thread& pool) {
    for (auto _ : state) {
        pool.request();
        io_uring_submit_and_wait(&ring, 1);
        io_uring_cqe* cqe = nullptr;
        io_uring_peek_cqe(&ring, &cqe);
        benchmark::DoNotOptimize(cqe->user_data);
        io_uring_cqe_seen(&ring, cqe);
    }
}

void BM_WakeMsgRing(benchmark::State& state) {
    io_uring ring;
    if (!init_loop_ring(ring)) {
        state.SkipWithError("io_uring unavailable");
        return;
    }
    io_uring sender;
    if (io_uring_queue_init(4, &sender, 0) != 0) {
        io_uring_queue_exit(&ring);
        state.SkipWithError("io_uring unavailable");
        return;
    }
    const int target = ring.ring_fd;
    // Probe: one message, to learn whether this kernel has MSG_RING and CQE_SKIP_SUCCESS.
    {
        io_uring_sqe* sqe = io_uring_get_sqe(&sender);
        io_uring_prep_msg_ring(sqe, target, 0, wake_tag, 0);
        io_uring_submit_and_wait(&sender, 1);
        io_uring_cqe* cqe = nullptr;
        io_uring_peek_cqe(&sender, &cqe);
        const int res = cqe->res;
        io_uring_cqe_seen(&sender, cqe);
        if (res < 0) {
            io_uring_queue_exit(&sender);
            io_uring_queue_exit(&ring);
            state.SkipWithError("IORING_OP_MSG_RING unsupported (kernel < 5.18)");
            return;
        }
        io_uring_submit_and_wait(&ring, 1);
        io_uring_peek_cqe(&ring, &cqe);
        io_uring_cqe_seen(&ring, cqe);
    }
    {
        pool_thread pool([&sender, target] {
            io_uring_sqe* sqe = io_uring_get_sqe(&sender);
            io_uring_prep_msg_ring(sqe, target, 0, wake_tag, 0);
            sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
            io_uring_submit(&sender);
        });
        measure_message_round_trips(state, ring, pool);
    }
    io_uring_queue_exit(&sender);
    io_uring_queue_exit(&ring);
    state.SetItemsProcessed(state.iterations());
}

// The message without a sender ring: io_uring_register(-1, IORING_REGISTER_SEND_MSG_RING, sqe)
// (Linux 6.13+), what coil uses, so no thread needs a ring (an fd) of its own to wake a loop.
void BM_WakeSyncMsgRing(benchmark::State& state) {
    io_uring ring;
    if (!init_loop_ring(ring)) {
        state.SkipWithError("io_uring unavailable");
        return;
    }
    const int target = ring.ring_fd;
    auto send = [target]() -> long {
        io_uring_sqe sqe{};
        io_uring_prep_msg_ring(&sqe, target, 0, wake_tag, 0);
        return ::syscall(__NR_io_uring_register, -1, 31 /* IORING_REGISTER_SEND_MSG_RING */, &sqe, 1);
    };
    if (send() < 0) {
        io_uring_queue_exit(&ring);
        state.SkipWithError("IORING_REGISTER_SEND_MSG_RING unsupported (kernel < 6.13)");
        return;
    }
    io_uring_cqe* first = nullptr;
    io_uring_wait_cqe(&ring, &first);
    io_uring_cqe_seen(&ring, first);
    {
        pool_thread pool([&send] { benchmark::DoNotOptimize(send()); });
        measure_message_round_trips(state, ring, pool);
    }
    io_uring_queue_exit(&ring);
    state.SetItemsProcessed(state.iterations());
}

// The same round trip through coil itself: the pool-like thread calls event_loop::post, which
// wakes the loop blocked in io_uring_enter by the mechanism the loop was made with
// (loop_options::wake_msg_ring: 0 = eventfd, 1 = IORING_OP_MSG_RING where the kernel has it),
// and the posted function sets a coil::event the benchmark's task waits on. This is what an
// offload's completion pays on top of the job.
void BM_CoilPostRoundTrip(benchmark::State& state) {
    coil::loop_options options;
    options.backend = coil::backend_kind::io_uring;
    options.wake_msg_ring = state.range(0) != 0;
    if (!coil::backend_available(coil::backend_kind::io_uring)) {
        state.SkipWithError("io_uring unavailable");
        return;
    }
    coil::event_loop loop(options);
    if (options.wake_msg_ring && loop.wake_method() != "IORING_OP_MSG_RING") {
        state.SkipWithError("IORING_OP_MSG_RING wake unavailable on this kernel");
        return;
    }
    state.SetLabel(std::string(loop.wake_method()));
    coil::event answered;
    {
        pool_thread pool([&] { loop.post([&] { answered.set(); }); });
        auto body = [&]() -> coil::task<void> {
            coil::event_loop::external_work pending(loop);
            for (auto _ : state) {
                answered.reset();
                pool.request();
                co_await answered.wait();
            }
        };
        loop.run(body());
    }
    state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_WakeEventfd)->UseRealTime();
BENCHMARK(BM_WakeMsgRing)->UseRealTime();
BENCHMARK(BM_WakeSyncMsgRing)->UseRealTime();
BENCHMARK(BM_CoilPostRoundTrip)->Arg(0)->Arg(1)->ArgName("msg_ring")->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
