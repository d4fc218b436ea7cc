// No heap allocation per request on a warm keep-alive Hello World connection: this binary
// replaces the global operator new/delete with counting ones, runs the server on its own thread
// (counted) and a blocking client on the test thread (not counted), and counts what the server
// thread allocates across 200 requests after 50 warm-up requests.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <future>
#include <new>
#include <thread>

#include "coil/http/server.hpp"
#include "coil/net/tcp_listener.hpp"
#include "coil/runtime.hpp"
#include "support/backend_test.hpp"

namespace {
std::atomic<std::size_t> server_allocations{0};
thread_local bool counted_thread = false;

void* counted_alloc(std::size_t n, std::size_t align = 0) {
    if (counted_thread) server_allocations.fetch_add(1, std::memory_order_relaxed);
    if (n == 0) n = 1;
    void* p = align > alignof(std::max_align_t) ? std::aligned_alloc(align, (n + align - 1) / align * align)
                                                : std::malloc(n);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_alloc(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_alloc(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return counted_alloc(n);
    } catch (...) {
        return nullptr;
    }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace {

using namespace std::chrono_literals;

class ServerAllocTest : public coil::testing::BackendTest {};

// One request and its whole response on a blocking socket, without allocating. Blocking calls
// are retried on EINTR: this process's io_uring work may interrupt them.
bool hello_round_trip(int fd) {
    static constexpr char request[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    ssize_t sent;
    do {
        sent = ::send(fd, request, sizeof request - 1, 0);
    } while (sent < 0 && errno == EINTR);
    if (sent != static_cast<ssize_t>(sizeof request - 1)) return false;
    char buf[1024];
    std::size_t have = 0;
    for (;;) {
        const ssize_t n = ::recv(fd, buf + have, sizeof buf - 1 - have, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        have += static_cast<std::size_t>(n);
        buf[have] = '\0';
        const char* end = std::strstr(buf, "\r\n\r\n");
        if (end == nullptr) continue;
        const char* cl = std::strstr(buf, "Content-Length: ");
        if (cl == nullptr) return false;
        const std::size_t length = std::strtoul(cl + 16, nullptr, 10);
        const std::size_t total = static_cast<std::size_t>(end + 4 - buf) + length;
        if (have < total) continue;
        return have == total && std::strncmp(buf, "HTTP/1.1 200 ", 13) == 0 &&
               std::memcmp(end + 4, "Hello, World!", 13) == 0;
    }
}

TEST_P(ServerAllocTest, WarmKeepAliveHelloWorldAllocatesNothingPerRequest) {
    coil::http::router routes;
    routes.add("GET", "/", [](coil::http::request&, coil::http::response& res) {
        res.add_header("Content-Type", "text/plain");
        res.set_body("Hello, World!");
    });
    std::promise<std::uint16_t> port_promise;
    auto port_future = port_promise.get_future();
    std::atomic<coil::event_loop*> loop_ptr{nullptr};
    coil::http::server* server_ptr = nullptr;
    std::thread server_thread([&] {
        counted_thread = true;
        coil::event_loop loop(options());
        auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0));
        if (!listener) {
            port_promise.set_value(0);
            return;
        }
        coil::http::server srv(routes);
        server_ptr = &srv;
        loop_ptr = &loop;
        port_promise.set_value(listener->local_endpoint().port());
        loop.run(srv.serve(*listener));
    });
    const std::uint16_t port = port_future.get();
    ASSERT_NE(port, 0);

    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval five{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    for (int i = 0; ok && i < 50; ++i) ok = hello_round_trip(fd);  // warm up
    const std::size_t before = server_allocations.load();
    int answered = 0;
    for (int i = 0; ok && i < 200; ++i) {
        ok = hello_round_trip(fd);
        answered += ok ? 1 : 0;
    }
    const std::size_t after = server_allocations.load();
    ::close(fd);

    loop_ptr.load()->post([&] { server_ptr->stop(1s); });
    server_thread.join();
    EXPECT_EQ(answered, 200);
    EXPECT_EQ(after - before, 0u) << "allocations on the server thread across 200 warm requests";
    EXPECT_GT(server_allocations.load(), 0u) << "the counter counts nothing: the test proves nothing";
}

COIL_INSTANTIATE_BACKEND_TEST(ServerAllocTest);

}  // namespace
