#pragma once
// The FIFO of writers on one fd: whole-message writes (send_all) take turns, in the order they
// were issued, so that their bytes never interleave.
//
// Cost: a writer that finds the fd free takes its turn with one flag test and store, and gives it
// back with one test; the list is touched only under contention (no allocation either way: a
// waiting writer's node lives in its own coroutine frame). The turn passes from writer to writer
// without ever becoming free in between, so a newcomer cannot overtake the waiting ones.
// Threading: the loop's thread only.

namespace coil::detail {

struct write_waiter {
    write_waiter* prev = nullptr;
    write_waiter* next = nullptr;
    bool queued = false;
    /// Called when the turn passes to this waiter (it now holds it).
    void (*on_granted)(write_waiter& self) noexcept = nullptr;
};

class write_queue {
public:
    write_queue() noexcept = default;
    write_queue(const write_queue&) = delete;
    write_queue& operator=(const write_queue&) = delete;

    [[nodiscard]] bool busy() const noexcept { return busy_; }
    [[nodiscard]] bool has_waiters() const noexcept { return head_ != nullptr; }

    /// Takes the turn if nobody holds it.
    [[nodiscard]] bool try_acquire() noexcept {
        if (busy_) return false;
        busy_ = true;
        return true;
    }
    /// Queues `w` behind the holder and the earlier waiters.
    void enqueue(write_waiter& w) noexcept {
        w.prev = tail_;
        w.next = nullptr;
        if (tail_) tail_->next = &w; else head_ = &w;
        tail_ = &w;
        w.queued = true;
    }
    /// Takes `w` out of the queue (cancelled or destroyed while waiting); no-op if not queued.
    void remove(write_waiter& w) noexcept {
        if (!w.queued) return;
        if (w.prev) w.prev->next = w.next; else head_ = w.next;
        if (w.next) w.next->prev = w.prev; else tail_ = w.prev;
        w.prev = w.next = nullptr;
        w.queued = false;
    }
    /// The holder is done: the turn goes to the first waiter, or the fd becomes free.
    void release() noexcept {
        write_waiter* w = head_;
        if (w == nullptr) {
            busy_ = false;
            return;
        }
        remove(*w);
        w->on_granted(*w);
    }

private:
    write_waiter* head_ = nullptr;
    write_waiter* tail_ = nullptr;
    bool busy_ = false;
};

}  // namespace coil::detail
