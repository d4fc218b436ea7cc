#pragma once
// A one-waiter wake-up between the two coroutines of a connection.

#include <coroutine>
#include <utility>

namespace echo_load {

// The writer waits here for credit; the reader (or whoever ends the connection) notifies. The
// waiter is resumed inline: it runs until its next suspension, then notify() returns. Not
// cancellation-aware: whoever cancels a connection also notifies (see end_connection).
class wake_signal {
public:
    wake_signal() noexcept = default;
    wake_signal(const wake_signal&) = delete;
    wake_signal& operator=(const wake_signal&) = delete;

    class awaiter {
    public:
        explicit awaiter(wake_signal& signal) noexcept : signal_(signal) {}
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> waiting) noexcept { signal_.waiter_ = waiting; }
        void await_resume() const noexcept {}

    private:
        wake_signal& signal_;
    };

    awaiter wait() noexcept { return awaiter(*this); }

    void notify() noexcept {
        if (waiter_) std::exchange(waiter_, {}).resume();
    }

private:
    std::coroutine_handle<> waiter_;
};

}  // namespace echo_load
