#include "coil/runtime/acceptor.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <coroutine>
#include <deque>

#include "coil/runtime/cancel.hpp"
#include "coil/runtime/detail/io_op.hpp"
#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/io.hpp"

namespace coil {
namespace {

// Handed to waiters when the multishot ended without a connection for them: try again.
constexpr int retry_marker = -EAGAIN;

result<unique_fd> to_connection(int res) {
    if (res < 0) return errno_code(-res);
    return unique_fd(res);
}

}  // namespace

struct acceptor::state {
    struct multishot_op : detail::io_op {
        state* owner = nullptr;
    };

    // One waiting accept() call: queued in FIFO order, resumed with a result.
    struct waiter : detail::ready_node, detail::cancel_link {
        state* owner = nullptr;
        waiter* older = nullptr;
        waiter* newer = nullptr;
        int res = -ECANCELED;
        bool queued = false;
        bool delivered = false;  // res holds a result (maybe a connection) for this waiter
        bool resumed = false;

        waiter() = default;
        waiter(const waiter&) = delete;
        waiter& operator=(const waiter&) = delete;
        ~waiter() {
            detail::cancel_state::unlink(*this);
            if (queued) owner->remove(*this);
            unlink();  // delivered but not yet resumed
            if (delivered && !resumed && res >= 0) ::close(res);  // a connection nobody took
        }
        bool await_ready() const noexcept { return false; }
        template <class P>
        void await_suspend(std::coroutine_handle<P> awaiting) noexcept {
            handle = awaiting;
            owner->enqueue(*this);
            if (detail::cancel_state* cancel = detail::cancel_state_of(awaiting)) {
                on_cancel = &cancel_waiter;
                cancel->attach(*this);
            }
        }
        int await_resume() noexcept {
            detail::cancel_state::unlink(*this);
            resumed = true;
            return res;
        }
        static void cancel_waiter(detail::cancel_link& link) noexcept {
            auto& w = static_cast<waiter&>(link);
            if (!w.queued) return;  // already has its result
            w.owner->remove(w);
            w.owner->deliver_to(w, -ECANCELED);
        }
    };

    state(event_loop& l, int fd) noexcept : loop(l), listen_fd(fd) {
        op.owner = this;
        op.code = detail::op_code::accept_multishot;
        op.fd = fd;
        op.flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
        op.on_multishot = &on_result;
    }
    ~state() {
        // accept() calls still waiting (the listener closed under them) end with
        // operation_canceled; they touch nothing of this state once resumed.
        while (waiter* w = oldest) {
            remove(*w);
            deliver_to(*w, -ECANCELED);
        }
        if (op.in_flight) loop.abandon_io(op);  // cancel, and drain until the last completion
        for (int res : queued) {
            if (res >= 0) ::close(res);
        }
    }

    [[nodiscard]] bool multishot() const noexcept { return loop.supports_multishot_accept(); }

    void arm() noexcept {
        op.cancel_requested = false;  // left over from the last pause
        op.res = 0;
        if (loop.start_io(op)) {
            queued.push_back(op.res);  // could not even start (no SQE): report it
            return;
        }
        armed = true;
    }

    void enqueue(waiter& w) noexcept {
        w.queued = true;
        w.older = newest;
        w.newer = nullptr;
        if (newest) newest->newer = &w; else oldest = &w;
        newest = &w;
    }
    void remove(waiter& w) noexcept {
        if (w.older) w.older->newer = w.newer; else oldest = w.newer;
        if (w.newer) w.newer->older = w.older; else newest = w.older;
        w.older = w.newer = nullptr;
        w.queued = false;
    }
    void deliver_to(waiter& w, int res) noexcept {
        w.res = res;
        w.delivered = true;
        loop.schedule(w);
    }

    static void on_result(detail::io_op& base, int res, bool more) noexcept {
        state& s = *static_cast<multishot_op&>(base).owner;
        if (!more) {
            s.armed = false;
            if (res == -ECANCELED && s.pausing) res = retry_marker;  // our own pause ended it
            s.pausing = false;  // the next accept() that finds the queue empty re-arms
        }
        if (res == retry_marker || (!more && res == -EINVAL && !s.multishot())) {
            // Ended without a connection: waiters try again (re-arming, or a plain accept).
            while (waiter* w = s.oldest) {
                s.remove(*w);
                s.deliver_to(*w, retry_marker);
            }
            return;
        }
        if (waiter* w = s.oldest) {
            s.remove(*w);
            s.deliver_to(*w, res);
            // The multishot ended with this result (an error such as EMFILE): the others must
            // not wait on a dead op; they try again and the first re-arms.
            while (!more && s.oldest) {
                waiter* other = s.oldest;
                s.remove(*other);
                s.deliver_to(*other, retry_marker);
            }
        } else {
            s.queued.push_back(res);
            if (s.queued.size() >= max_queued && s.armed && !s.pausing) {
                s.pausing = true;  // nobody is taking them: let the kernel backlog hold the rest
                s.loop.cancel_io(s.op);
            }
        }
    }

    event_loop& loop;
    int listen_fd;
    multishot_op op;  // KERNEL-OWNS while armed: abandoned and drained in ~state
    std::deque<int> queued;
    waiter* oldest = nullptr;
    waiter* newest = nullptr;
    bool armed = false;
    bool pausing = false;
};

acceptor::acceptor() noexcept = default;
acceptor::acceptor(int listen_fd)
    : state_(std::make_unique<state>(event_loop::current_or_throw(), listen_fd)) {}
acceptor::acceptor(acceptor&&) noexcept = default;
acceptor& acceptor::operator=(acceptor&&) noexcept = default;
acceptor::~acceptor() = default;

task<result<unique_fd>> acceptor::accept() {
    if (!state_) co_return std::errc::bad_file_descriptor;
    state& s = *state_;
    for (;;) {
        if (!s.queued.empty()) {  // first what the multishot already took from the kernel
            const int res = s.queued.front();
            s.queued.pop_front();
            co_return to_connection(res);
        }
        if (!s.armed && !s.multishot()) co_return co_await coil::accept(s.listen_fd);
        if (!s.armed) s.arm();  // (while a pause is being cancelled it is still armed: wait)
        if (!s.queued.empty()) continue;  // arming failed at once
        state::waiter w;
        w.owner = &s;
        const int res = co_await w;
        if (res == retry_marker) continue;
        co_return to_connection(res);
    }
}

}  // namespace coil
