#pragma once
// coil::loop_group: N event loops, each on its own thread, for a thread-per-core server.
//
//     coil::loop_group group({.threads = 2, .cpus = {0, 1}}, [&](std::size_t i) -> coil::task<void> {
//         auto listener = coil::tcp_listener::bind(endpoint, {.reuse_port = true}).value();
//         co_await serve(std::move(listener));   // this loop's own listener, connections, buffers
//     });
//     ...
//     group.stop();   // cancel every entry task, join the threads; rethrows a task's exception
//
// Name: Netty's EventLoopGroup, the term most servers use for "several event loops, one thread
// each"; thread-per-core is the architecture it serves (one loop per core, pinned, shared-nothing),
// but the group does not insist on it: any N, pinning optional.
// Model: shared-nothing. Every loop has its own backend (its own io_uring or epoll set), its own
// ready queue, timers and receive pool; no queue is shared, nothing is stolen. Each thread makes
// its loop with `loop` options and runs `entry(index)` on it. Loops talk only through
// event_loop::post and co_await coil::switch_to(loop) (runtime/switch_to.hpp).
// Start: the constructor starts the threads and returns once every loop exists (loop(i) is valid
// from then on) and every thread is pinned. It throws, after stopping and joining the threads it
// started: std::invalid_argument for threads == 0 or a CPU number outside 0 .. CPU_SETSIZE-1;
// std::system_error for a CPU the kernel refuses (pthread_setaffinity_np: EINVAL for a CPU that
// does not exist or is not in the process's allowed set); whatever the loop's constructor throws.
// Stop: request_stop() cancels every entry task's cancel token and every loop's spawned tasks
// (cancel_spawned). It is a request: join() waits for the entry tasks to finish. An entry task
// that ends on its own does not end its loop: the loop keeps running (serving hand-offs and its
// spawned tasks) until every entry task has finished, then all loops return and their threads end.
// Errors: an exception escaping an entry task is kept, and it requests stop of the whole group
// (a server with a dead loop would otherwise keep running at a fraction of its capacity, silently);
// join() and stop() rethrow the first one by loop index once every thread has been joined. Later
// ones are logged through the log hook (runtime/log.hpp) at error level.
// Liveness: each loop holds an event_loop::external_work while the group runs, because a peer may
// post to it at any time; so an entry task that waits for nothing hangs instead of getting
// event_loop::run's deadlock error.
// Threading: request_stop(), size() and loop() are callable from any thread; join()/stop() from
// one thread at a time, never from a loop of the group. A loop's members other than post() are
// still for its own thread only (event_loop.hpp).
// Lifetime: entry is copied into every thread and must be callable concurrently; what it captures
// must outlive join(). The destructor calls stop() and logs (does not throw) an entry exception
// that nobody collected. A loop lives from the constructor's return until every entry task of
// the group has finished (then its thread destroys it): keep references from loop(i) no longer,
// and post or switch to a loop only while the entry tasks run (a post to a loop that has ended
// its run() is dropped unrun with the loop).

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "coil/runtime/cancel.hpp"
#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

struct loop_group_options {
    /// Loops, one thread each (at least 1).
    std::size_t threads = 1;
    /// Options every loop is made with.
    loop_options loop{};
    /// CPU pinning: empty, no pinning (the scheduler places the threads); otherwise loop i is
    /// pinned to cpus[i % cpus.size()] (pthread_setaffinity_np, one CPU each).
    std::vector<int> cpus{};
};

class loop_group {
public:
    using entry_function = std::function<task<void>(std::size_t index)>;

    /// Starts the threads and waits for their loops; see Start above for what it throws.
    loop_group(loop_group_options options, entry_function entry);
    /// stop(); an exception it would rethrow is logged instead.
    ~loop_group();
    loop_group(const loop_group&) = delete;
    loop_group& operator=(const loop_group&) = delete;

    [[nodiscard]] std::size_t size() const noexcept { return slots_.size(); }
    /// Loop `index` (< size(); std::out_of_range otherwise), for post() and switch_to;
    /// std::logic_error once that loop has ended (see Lifetime).
    [[nodiscard]] event_loop& loop(std::size_t index) const;

    /// Asks every entry task to finish (its cancel token) and every loop's spawned tasks too.
    /// Any thread, any number of times; returns at once.
    void request_stop() noexcept;
    /// Waits for every thread; rethrows the first entry exception by loop index. Once.
    void join();
    /// request_stop() then join().
    void stop() {
        request_stop();
        join();
    }

private:
    struct slot;
    struct shared;
    static void thread_main(std::shared_ptr<shared> state, std::size_t index);
    static task<void> loop_body(shared& st, std::size_t index, slot& s, cancel_source& source);

    std::shared_ptr<shared> state_;
    std::vector<slot*> slots_;
    std::vector<std::thread> threads_;
};

}  // namespace coil
