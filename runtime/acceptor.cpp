#include "coil/runtime/acceptor.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <coroutine>
#include <deque>
#include <stdexcept>

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

struct acceptor::state : detail::loop_binding {
    struct multishot_op : detail::io_op {
        state* owner = nullptr;
    };

    // A plain accept (epoll, or a kernel without multishot), listed so that destroying the
    // acceptor can cancel it: then it ends with operation_canceled on both backends, as the
    // multishot's waiters do, instead of waiting on (epoll) or for (io_uring) a closing fd.
    struct plain_accept : accept_awaitable {
        state* owner;
        plain_accept* prev = nullptr;
        plain_accept* next = nullptr;

        explicit plain_accept(state& s) : accept_awaitable(coil::accept(s.listen_fd)), owner(&s) {
            next = s.plain;
            if (next) next->prev = this;
            s.plain = this;
        }
        plain_accept(const plain_accept&) = delete;
        plain_accept& operator=(const plain_accept&) = delete;
        ~plain_accept() { detach(); }
        void detach() noexcept {
            if (owner == nullptr) return;
            if (prev) prev->next = next; else owner->plain = next;
            if (next) next->prev = prev;
            prev = next = nullptr;
            owner = nullptr;
        }
        void cancel(event_loop& loop) noexcept {
            if (op_.in_flight) loop.cancel_io(op_);  // (completed already: it keeps its result)
        }
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

    state(event_loop& l, int fd) noexcept : listen_fd(fd) {
        op.owner = this;
        op.code = detail::op_code::accept_multishot;
        op.fd = fd;
        op.flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
        op.on_multishot = &on_result;
        on_loop_gone = &forget_loop;
        bind_to(l);
    }
    ~state() {
        // accept() calls still waiting (the listener closed under them) end with
        // operation_canceled; they touch nothing of this state once resumed.
        while (waiter* w = oldest) {
            remove(*w);
            deliver_to(*w, -ECANCELED);
        }
        while (plain_accept* p = plain) {
            if (loop) p->cancel(*loop);  // (one in flight implies a live loop)
            p->detach();
        }
        if (loop) {
            if (op.in_flight) loop->abandon_io(op);  // cancel, and drain until the last completion
            loop->unbind(*this);
        }
        for (int res : queued) {
            if (res >= 0) ::close(res);
        }
    }

    void bind_to(event_loop& l) noexcept {
        loop = &l;
        l.bind(*this);
    }
    // The loop is being destroyed while we live on (a listener declared outside coil::run): its
    // tasks, so every waiter and plain accept, are gone; drain the multishot while the backend
    // still exists, and forget the loop. Queued connections stay for a later loop (or are closed
    // by the destructor).
    static void forget_loop(detail::loop_binding& b) noexcept {
        state& s = static_cast<state&>(b);
        if (s.op.in_flight) s.loop->abandon_io(s.op);
        s.op.abandoned = false;
        s.armed = false;
        s.pausing = false;
        s.loop = nullptr;
    }

    [[nodiscard]] bool multishot() const noexcept { return loop->supports_multishot_accept(); }

    void arm() noexcept {
        op.cancel_requested = false;  // left over from the last pause
        op.res = 0;
        if (loop->start_io(op)) {
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
        loop->schedule(w);
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
                s.loop->cancel_io(s.op);
            }
        }
    }

    event_loop* loop = nullptr;  // null once the loop is gone (until a later loop uses us)
    int listen_fd;
    plain_accept* plain = nullptr;  // in flight, newest first
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
    event_loop& current = event_loop::current_or_throw();
    if (s.loop == nullptr) s.bind_to(current);  // our loop is gone; this thread has a new one
    if (s.loop != &current) {
        throw std::logic_error("coil::acceptor::accept: called on a thread other than its loop's");
    }
    for (;;) {
        if (!s.queued.empty()) {  // first what the multishot already took from the kernel
            const int res = s.queued.front();
            s.queued.pop_front();
            co_return to_connection(res);
        }
        if (!s.armed && !s.multishot()) {
            state::plain_accept plain(s);
            co_return co_await plain;
        }
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
