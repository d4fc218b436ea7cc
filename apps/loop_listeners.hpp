#pragma once
// The apps' --threads N plumbing, shared by echo_server and http_server: N loops (a
// coil::loop_group), each with its own SO_REUSEPORT listener on one port. Loop 0 binds first (so
// --port 0 gets one port for all), the others then bind the port it got; "listening on ..." is
// printed once every loop listens. With accept_mode::handoff (echo_server --accept handoff) only
// loop 0 binds (no SO_REUSEPORT) and the others only say ready(index); loop 0 then hands the
// connections out (apps/loop_handoff.hpp). Which is faster, measured: docs/threading.md.
// Threading: one object shared by the loop threads; its events and atomics are thread-safe.

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "coil/net.hpp"

/// reuseport: a listener per loop; handoff: loop 0 alone listens and hands connections out.
enum class accept_mode { reuseport, handoff };

class loop_listeners {
public:
    loop_listeners(std::size_t loops, const coil::ip_endpoint& endpoint, std::string bind,
                   accept_mode mode = accept_mode::reuseport)
        : accepted(loops, 0), endpoint_(endpoint), bind_(std::move(bind)), mode_(mode) {}

    [[nodiscard]] accept_mode mode() const noexcept { return mode_; }

    /// Loop `index`'s listener; throws std::system_error if it cannot listen. Loops 1.. wait for
    /// loop 0 and end (with no listener) if it failed or the group is stopping. With handoff,
    /// only loop 0 calls this.
    coil::task<std::optional<coil::tcp_listener>> bind(std::size_t index) {
        if (index > 0) {
            auto known = co_await first_bound_.wait();
            if (!known || failed_.load()) co_return std::nullopt;
        }
        auto endpoint = endpoint_;
        if (index > 0) endpoint = coil::ip_endpoint::from_address(bind_, port_.load()).value();
        coil::listen_options lo;
        lo.reuse_port = mode_ == accept_mode::reuseport;
        auto listener = coil::tcp_listener::bind(endpoint, lo);
        if (index == 0) {
            if (listener) port_.store(listener->local_endpoint().port());
            failed_.store(!listener);
            first_bound_.set();
        }
        if (!listener) throw std::system_error(listener.error(), "cannot listen on " + endpoint.to_string());
        co_return std::move(*listener);
    }

    /// Loop `index` is ready to serve: the last one to get here lets loop 0 print "listening on".
    /// False if the group is stopping first (then don't serve).
    coil::task<bool> ready(std::size_t index, const coil::tcp_listener& listener) {
        if (bound_.fetch_add(1) + 1 == accepted.size()) all_bound_.set();
        if (index != 0) co_return true;
        auto all = co_await all_bound_.wait();
        if (!all) co_return false;
        std::printf("listening on %s\n", listener.local_endpoint().to_string().c_str());
        std::fflush(stdout);
        co_return true;
    }

    /// A loop without a listener (1.., handoff) is ready to take connections.
    coil::task<bool> ready(std::size_t index) {
        if (bound_.fetch_add(1) + 1 == accepted.size()) all_bound_.set();
        co_return index != 0;
    }

    coil::event ended;                  // an entry task ended (a failure, or the stop)
    std::vector<std::size_t> accepted;  // per loop (handoff: handed to it), written as it ends

private:
    coil::ip_endpoint endpoint_;
    std::string bind_;
    accept_mode mode_;
    std::atomic<std::uint16_t> port_{0};  // the port loop 0 got; the others bind it too
    std::atomic<bool> failed_{false};
    coil::event first_bound_;  // loop 0 has bound (or failed)
    std::atomic<std::size_t> bound_{0};
    coil::event all_bound_;  // every loop listens
};

/// Sets `ended` when the entry task that holds it ends, however it ends.
struct set_on_exit {
    coil::event& event;
    ~set_on_exit() { event.set(); }
};
