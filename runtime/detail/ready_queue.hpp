#pragma once
// The event loop's run queue: an intrusive, circular, doubly linked list of ready_node.
//
// Every suspension point in coil (an I/O awaiter, a sleep, a yield, a child-task join) owns one
// ready_node inside the coroutine frame. Intrusive means scheduling never allocates; doubly linked
// means a node can unlink itself in O(1) when its frame is destroyed while it is queued, so the
// queue never holds a handle to a dead frame.
// Threading: single-threaded, owned by one event_loop.

#include <coroutine>
#include <cstddef>

namespace coil::detail {

struct ready_node {
    ready_node* prev = nullptr;
    ready_node* next = nullptr;
    std::coroutine_handle<> handle;
    /// If set, the loop calls this instead of resuming `handle`: for an awaiter that must decide
    /// what to resume once its op completes, without a coroutine frame of its own (send_all's
    /// first send: resume the caller, or continue a partial message in a frame made only then).
    void (*run)(ready_node& self) noexcept = nullptr;

    ready_node() = default;
    // A node is identified by its address while linked; copying a linked node would corrupt the list.
    ready_node(const ready_node&) noexcept {}
    ready_node& operator=(const ready_node&) = delete;

    [[nodiscard]] bool linked() const noexcept { return next != nullptr; }
    void unlink() noexcept {
        if (!linked()) return;
        prev->next = next;
        next->prev = prev;
        prev = next = nullptr;
    }
};

class ready_queue {
public:
    ready_queue() noexcept { head_.prev = head_.next = &head_; }
    ready_queue(const ready_queue&) = delete;
    ready_queue& operator=(const ready_queue&) = delete;
    ~ready_queue() { clear(); }

    [[nodiscard]] bool empty() const noexcept { return head_.next == &head_; }

    void push_back(ready_node& node) noexcept {
        node.prev = head_.prev;
        node.next = &head_;
        head_.prev->next = &node;
        head_.prev = &node;
    }

    ready_node* pop_front() noexcept {
        if (empty()) return nullptr;
        ready_node* node = head_.next;
        node->unlink();
        return node;
    }

    /// Moves every node of `other` to the end of this queue.
    void splice_back(ready_queue& other) noexcept {
        if (other.empty()) return;
        ready_node* first = other.head_.next;
        ready_node* last = other.head_.prev;
        other.head_.prev = other.head_.next = &other.head_;
        first->prev = head_.prev;
        last->next = &head_;
        head_.prev->next = first;
        head_.prev = last;
    }

    void clear() noexcept {
        while (pop_front() != nullptr) {
        }
    }

private:
    ready_node head_;  // sentinel
};

}  // namespace coil::detail
