#pragma once
// A hook by which an object that uses a loop's backend (an fd record, an acceptor) learns that
// the loop is being destroyed, so that it may outlive the loop and be destroyed safely afterwards.
//
// The loop keeps the bound objects in an intrusive list (no allocation); its destructor, after
// the spawned frames are gone and while the backend still exists, unlinks each and calls
// on_loop_gone. The object then drains what the backend holds for it and forgets the loop.
// See docs/lifetimes.md. Threading: the loop's thread only.

namespace coil::detail {

struct loop_binding {
    loop_binding() = default;
    loop_binding(const loop_binding&) = delete;
    loop_binding& operator=(const loop_binding&) = delete;

    void (*on_loop_gone)(loop_binding& self) noexcept = nullptr;
    loop_binding* prev = nullptr;
    loop_binding* next = nullptr;
    bool bound = false;
};

}  // namespace coil::detail
