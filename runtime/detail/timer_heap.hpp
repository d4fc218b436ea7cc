#pragma once
// The event loop's timers: an intrusive binary min-heap ordered by (deadline, arming order).
//
// Each timer_node lives in its owner (a sleep awaiter, a with_timeout frame) and records its index
// in the heap, so cancelling is O(log n) removal rather than a lazy tombstone. Timers that share a
// deadline fire in the order they were armed. The heap only compares deadlines (no arithmetic);
// its owners clamp them first (detail/deadline.hpp) and never arm a deadline that never expires.
// Threading: single-threaded, owned by one event_loop.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "coil/runtime/detail/deadline.hpp"

namespace coil::detail {

struct timer_node {
    static constexpr std::size_t not_armed = ~std::size_t{0};

    clock::time_point deadline{};
    std::uint64_t sequence = 0;
    std::size_t heap_index = not_armed;
    void (*fire)(timer_node&) noexcept = nullptr;

    [[nodiscard]] bool armed() const noexcept { return heap_index != not_armed; }
};

class timer_heap {
public:
    [[nodiscard]] bool empty() const noexcept { return nodes_.empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return nodes_.size(); }
    [[nodiscard]] timer_node* top() const noexcept { return nodes_.empty() ? nullptr : nodes_.front(); }

    void push(timer_node& node) {
        node.sequence = next_sequence_++;
        node.heap_index = nodes_.size();
        nodes_.push_back(&node);
        sift_up(node.heap_index);
    }

    void remove(timer_node& node) noexcept {
        if (!node.armed()) return;
        const std::size_t index = node.heap_index;
        const std::size_t last = nodes_.size() - 1;
        if (index != last) {
            place(index, nodes_[last]);
            nodes_.pop_back();
            sift_down(index);
            sift_up(index);
        } else {
            nodes_.pop_back();
        }
        node.heap_index = timer_node::not_armed;
    }

private:
    static bool before(const timer_node* a, const timer_node* b) noexcept {
        return a->deadline < b->deadline || (a->deadline == b->deadline && a->sequence < b->sequence);
    }
    void place(std::size_t index, timer_node* node) noexcept {
        nodes_[index] = node;
        node->heap_index = index;
    }
    void sift_up(std::size_t index) noexcept {
        timer_node* node = nodes_[index];
        while (index > 0) {
            const std::size_t parent = (index - 1) / 2;
            if (!before(node, nodes_[parent])) break;
            place(index, nodes_[parent]);
            index = parent;
        }
        place(index, node);
    }
    void sift_down(std::size_t index) noexcept {
        timer_node* node = nodes_[index];
        const std::size_t n = nodes_.size();
        for (;;) {
            std::size_t child = 2 * index + 1;
            if (child >= n) break;
            if (child + 1 < n && before(nodes_[child + 1], nodes_[child])) ++child;
            if (!before(nodes_[child], node)) break;
            place(index, nodes_[child]);
            index = child;
        }
        place(index, node);
    }

    std::vector<timer_node*> nodes_;
    std::uint64_t next_sequence_ = 0;
};

}  // namespace coil::detail
