#pragma once
// The apps' --accept handoff plumbing: one loop (0) accepts for all and hands each connection
// round-robin to loop i (itself included), which serves it. The alternative to one SO_REUSEPORT
// listener per loop (apps/loop_listeners.hpp); measured against it in docs/threading.md.
// How a connection moves: loop 0 accepts the bare fd (listening_socket::accept_fd, bound to no
// loop), posts it to loop i (event_loop::post: an eventfd wake of loop i), and loop i makes the
// tcp_stream on its own thread, so that the stream, its backend state and its task all belong to
// loop i. A hand-off to loop 0 itself spawns at once, without a post.
// Threading: open(), close() and the handler run on the loop they name; hand_out() on the
// accepting loop only, and only once every loop has opened (loop_listeners::ready orders that:
// each loop opens before it counts itself ready, and loop 0 hands out only after all are).
// Lifetime: the object outlives the loop_group's join. A hand-off that reaches a loop after it
// closed (stopping) closes the connection; so does one the loop drops unrun at its end.

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "coil/net.hpp"
#include "coil/runtime.hpp"

class loop_handoff {
public:
    using handler = coil::task<void> (*)(coil::tcp_stream);

    loop_handoff(std::size_t loops, handler serve) : slots_(loops), serve_(serve) {}

    /// On loop `index`: from now on, connections handed to this loop are spawned into
    /// `connections` (which must stay alive until close(index)).
    void open(std::size_t index, coil::task_group& connections) {
        slots_[index].loop = &coil::event_loop::current_or_throw();
        slots_[index].connections = &connections;
    }
    /// On loop `index`: take no more; later hand-offs to it are closed.
    void close(std::size_t index) noexcept { slots_[index].connections = nullptr; }

    /// On the accepting loop: gives `fd` to the next loop in turn.
    void hand_out(coil::unique_fd fd) {
        const std::size_t target = next_;
        next_ = (next_ + 1) % slots_.size();
        if (slots_[target].loop == coil::event_loop::current()) {
            take(target, std::move(fd));
            return;
        }
        // post() takes a std::function, which must be copyable: the fd rides in a shared_ptr
        // (closed with it if the loop drops the post unrun).
        auto owned = std::make_shared<coil::unique_fd>(std::move(fd));
        slots_[target].loop->post([this, target, owned] { take(target, std::move(*owned)); });
    }

private:
    struct slot {
        coil::event_loop* loop = nullptr;               // written by its loop before ready
        coil::task_group* connections = nullptr;        // its loop's thread only
    };

    // On loop `index`'s thread: the stream is made here, so it belongs to this loop.
    void take(std::size_t index, coil::unique_fd fd) {
        coil::task_group* connections = slots_[index].connections;
        if (connections == nullptr) return;  // stopping: the fd closes
        coil::tcp_stream conn(std::move(fd));
        (void)conn.set_nodelay();
        connections->spawn(serve_(std::move(conn)));
    }

    std::vector<slot> slots_;
    handler serve_;
    std::size_t next_ = 0;  // the accepting loop's only
};
