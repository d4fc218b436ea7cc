// hello_coil: a first coil program, built outside coil's repository (see meson.build here).
//
// Starts an echo listener on 127.0.0.1 (port 0: the kernel picks), connects to it, sends
// "hello, coil", prints what came back and which backend ran it. Exit 0 if the reply matched.
// Try it:  meson setup build -Dbuildtype=release && ninja -C build && build/hello_coil

#include <array>
#include <chrono>
#include <cstdio>
#include <span>
#include <string_view>
#include <tuple>

#include <coil/coil.hpp>

using namespace std::chrono_literals;

coil::task<void> echo_once(coil::tcp_listener& listener) {
    auto conn = co_await listener.accept();
    if (!conn) co_return;
    std::array<std::byte, 64> buf;
    auto n = co_await conn->recv(buf);
    if (!n) co_return;
    (void)co_await conn->send_all(std::span(buf).first(*n));
}

coil::task<int> ask(coil::ip_endpoint server) {
    constexpr std::string_view message = "hello, coil";
    auto stream = co_await coil::tcp_connect(server, 2s);
    if (!stream) co_return 1;
    auto sent = co_await stream->send_all(std::as_bytes(std::span(message)));
    if (!sent) co_return 1;
    std::array<char, message.size()> reply{};
    auto got = co_await coil::with_timeout(stream->recv_exact(std::as_writable_bytes(std::span(reply))), 2s);
    if (!got) {  // timed_out, eof, connection_reset, ...
        std::fprintf(stderr, "hello_coil: %s\n", got.error().message().c_str());
        co_return 1;
    }
    const auto backend = coil::to_string(coil::event_loop::current_or_throw().backend());
    std::printf("%.*s (via %.*s)\n", static_cast<int>(reply.size()), reply.data(),
                static_cast<int>(backend.size()), backend.data());
    co_return std::string_view(reply.data(), reply.size()) == message ? 0 : 1;
}

coil::task<int> hello() {
    auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0));
    if (!listener) co_return 1;
    // Both at once, on one thread; when_all returns once both have finished.
    auto done = co_await coil::when_all(echo_once(*listener), ask(listener->local_endpoint()));
    co_return std::get<1>(done);
}

int main() { return coil::run(hello()); }
