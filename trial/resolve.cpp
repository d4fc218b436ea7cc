// Trial of coil::resolve and tcp_connect by name (issue 11).
#include <chrono>
#include <cstdio>
#include <string>

#include <coil/coil.hpp>

using namespace std::chrono_literals;

static int failures = 0;
#define CHECK(c)                                                     \
    do {                                                             \
        if (!(c)) {                                                  \
            std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); \
            ++failures;                                              \
        }                                                            \
    } while (0)

coil::task<void> accept_one(coil::tcp_listener& l) {
    auto c = co_await l.accept();
    std::printf("accepted: %s\n", c ? "yes" : c.error().message().c_str());
}

coil::task<int> main_task() {
    for (const char* host : {"localhost", "127.0.0.1", "::1", "ip6-localhost", "no-such-host.invalid", ""}) {
        auto r = co_await coil::resolve(host, "8080");
        if (r) {
            std::printf("resolve(%s): %zu:", host, r->size());
            for (auto& e : *r) std::printf(" %s", e.to_string().c_str());
            std::printf("\n");
        } else {
            std::printf("resolve(%s): error %s [%s %d] host_not_found=%d\n", host, r.error().message().c_str(),
                        r.error().category().name(), r.error().value(),
                        r.error() == coil::resolve_errc::host_not_found);
        }
    }
    auto bad_service = co_await coil::resolve("localhost", "no-such-service");
    std::printf("resolve(localhost, no-such-service): %s\n",
                bad_service ? "ok?" : bad_service.error().message().c_str());
    CHECK(!bad_service);
    auto both_empty = co_await coil::resolve("", "");
    std::printf("resolve(\"\", \"\"): %s\n", both_empty ? "ok?" : both_empty.error().message().c_str());
    CHECK(!both_empty && both_empty.error() == coil::resolve_errc::host_not_found);
    auto http = co_await coil::resolve("localhost", "http");
    CHECK(http && http->front().port() == 80);

    auto invalid = co_await coil::resolve("no-such-host.invalid", "80");
    CHECK(!invalid && invalid.error() == coil::resolve_errc::host_not_found);

    auto listener = coil::tcp_listener::bind(coil::ip_endpoint::loopback_v4(0));
    CHECK(listener.has_value());
    const auto port = listener->local_endpoint().port();
    auto [acc, conn] = co_await coil::when_all(accept_one(*listener), coil::tcp_connect("localhost", port, 2s));
    std::printf("tcp_connect(localhost, %u): %s\n", port, conn ? "connected" : conn.error().message().c_str());
    CHECK(conn.has_value());
    if (conn) std::printf("  peer %s\n", conn->peer_endpoint()->to_string().c_str());

    auto nx = co_await coil::tcp_connect("no-such-host.invalid", port, 2s);
    std::printf("tcp_connect(no-such-host.invalid): %s [%s]\n", nx ? "connected?" : nx.error().message().c_str(),
                nx ? "" : nx.error().category().name());
    CHECK(!nx);

    listener->close();
    auto refused = co_await coil::tcp_connect("localhost", port, 2s);
    std::printf("tcp_connect(localhost, closed port): %s\n", refused ? "connected?" : refused.error().message().c_str());
    CHECK(!refused && refused.error() == std::errc::connection_refused);

    auto zero = co_await coil::tcp_connect("localhost", port, 0ms);
    std::printf("tcp_connect(localhost, timeout 0): %s\n", zero ? "connected?" : zero.error().message().c_str());
    co_return failures;
}

int main() {
    int f = coil::run(main_task());
    std::printf("%s (%d failures)\n", f ? "FAILED" : "OK", f);
    return f ? 1 : 0;
}
