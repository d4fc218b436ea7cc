#pragma once
// coil::loop_stats: per-loop counters, read with event_loop::stats().
//
//     const coil::loop_stats s = loop.stats();
//     std::fprintf(stderr, "%s\n", coil::to_key_values(s).c_str());
//
// Cost: each counter is a plain integer increment on the loop's thread where the event happens
// (no atomics, no clock readings), so they are always on. Totals count from the loop's
// construction and only grow (they wrap after 2^64); the "now" fields are gauges.
// Threading: stats() on the loop's thread only (the fields are not atomic). Another thread may
// ask the loop for them through post().
// Backends: a field that does not apply to the loop's backend stays 0 (said per field).

#include <cstddef>
#include <cstdint>
#include <string>

namespace coil {

struct loop_stats {
    // ---- Syscalls (totals)
    /// Calls into the kernel that submit and/or wait for I/O: io_uring_enter (every submit, wait
    /// and non-blocking reap, the abandon drain included; a wait satisfied from the
    /// completions already in the ring without entering is not counted), or epoll_wait /
    /// epoll_pwait2. A poll that skips the syscall (nothing in flight, other tasks ready) adds 0.
    std::uint64_t kernel_enters = 0;
    /// epoll: the non-blocking syscalls run for operations (recv, send, accept4, connect,
    /// close, ...), one per attempt: the first try and each retry after an edge, EAGAIN results
    /// included (a connect attempt that polls and reads SO_ERROR counts one). An op that its
    /// readiness memory says would say EAGAIN costs none; a nop (no fd) costs none. For example
    /// a recv on an idle raw fd that then gets data: op_syscalls +2, ctl_syscalls +1 (the fd is
    /// added to the epoll set), kernel_enters +1, completions +1, reaps +1.
    /// io_uring: only a close(2) run synchronously because the SQ was full (else 0).
    std::uint64_t op_syscalls = 0;
    /// Registration syscalls: epoll_ctl (add, delete; the wake eventfd's add at set-up too) or
    /// io_uring_register (the fixed-file table at set-up, then one update per register_fd /
    /// forget_fd of an owned fd).
    std::uint64_t ctl_syscalls = 0;

    // ---- io_uring submission (totals; 0 on epoll)
    /// SQEs the kernel consumed (operations, their readiness re-issues, cancels, the wake read),
    /// counted by how far each submit moved the SQ head: a submit of N SQEs counts N. For
    /// example N operations started in one turn: sqes_submitted +N, submits +1, kernel_enters +1.
    std::uint64_t sqes_submitted = 0;
    /// Calls that handed the kernel at least one SQE. sqes_submitted / submits = SQEs per submit.
    std::uint64_t submits = 0;

    // ---- Completions (totals)
    /// Completions reaped: io_uring CQEs (the backend's own wake-up and cancel CQEs included), or
    /// epoll events returned (the wake eventfd's included).
    std::uint64_t completions = 0;
    /// Reaps that found at least one completion. completions / reaps = completions per reap.
    std::uint64_t reaps = 0;

    // ---- Gauges (now)
    /// Operations started on the backend and not yet completed (event_loop::io_in_flight()).
    std::size_t ops_in_flight = 0;
    /// Tasks started with event_loop::spawn (detached, owned by the loop) and not finished yet
    /// (event_loop::spawned_count()). Not counted: a run() root, and tasks owned by another task:
    /// task_group children, when_all/when_any operands. So echo_server, whose connections are
    /// task_group children, shows tasks_alive=0 with every connection open.
    std::size_t tasks_alive = 0;
    /// Armed timers (event_loop::armed_timers()).
    std::size_t timers_armed = 0;
    /// Receive-pool buffers out of the loop's pool now (event_loop::pool_buffers_in_use(): held
    /// by a pooled_buffer, queued for a connection, or lent to a receive in progress; the heap
    /// buffers used while the pool is empty count too, so it can exceed recv_buffer_count).
    std::size_t pool_buffers_in_use = 0;
};

/// One line, stable order and names, space-separated `key=value` (integers in decimal), e.g.
/// "kernel_enters=12 op_syscalls=30 ... pool_buffers_in_use=0". Keys are the field names above;
/// new fields are only ever appended.
std::string to_key_values(const loop_stats& s);

}  // namespace coil
