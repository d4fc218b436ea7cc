// Trial of the sync primitives' documented contracts on one loop (issue 11).
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

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

coil::task<void> channels() {
    coil::channel<std::unique_ptr<int>> ch(2);
    auto a = std::make_unique<int>(1);
    CHECK(ch.try_send(std::move(a)).has_value());
    CHECK(a == nullptr);
    CHECK(ch.try_send(std::make_unique<int>(2)).has_value());
    auto c = std::make_unique<int>(3);
    auto full = ch.try_send(std::move(c));
    CHECK(!full && full.error() == std::errc::operation_would_block);
    CHECK(c != nullptr);  // given back
    // a parked sender with timeout
    auto timed = co_await coil::with_timeout(ch.send(std::make_unique<int>(4)), 10ms);
    CHECK(!timed && timed.error() == coil::errc::timed_out);
    CHECK(ch.size() == 2);
    // parked sender, then close: gets closed
    auto closer = [&]() -> coil::task<void> {
        co_await coil::sleep_for(5ms);
        ch.close();
    };
    auto [sent, unused] = co_await coil::when_all(
        [&]() -> coil::task<coil::result<void>> { co_return co_await ch.send(std::make_unique<int>(5)); }(), closer());
    CHECK(!sent && sent.error() == coil::errc::closed);
    // drain
    auto r1 = co_await ch.receive();
    auto r2 = co_await ch.receive();
    auto r3 = co_await ch.receive();
    auto r4 = ch.try_receive();
    CHECK(r1 && **r1 == 1);
    CHECK(r2 && **r2 == 2);
    CHECK(!r3 && r3.error() == coil::errc::closed);
    CHECK(!r4 && r4.error() == coil::errc::closed);
    std::printf("channel: closed message '%s'\n", r3.error().message().c_str());

    coil::channel<int> u(coil::unbounded);
    for (int i = 0; i < 10000; ++i) CHECK(u.try_send(int(i)).has_value());
    CHECK(u.size() == 10000);
    u.close();
    int n = 0;
    for (;;) {
        auto v = co_await u.receive();
        if (!v) break;
        CHECK(*v == n);
        ++n;
    }
    CHECK(n == 10000);
    try {
        coil::channel<int> zero(0);
        CHECK(false);
    } catch (const std::invalid_argument& e) {
        std::printf("channel(0): %s\n", e.what());
    }
}

coil::task<void> broadcasts() {
    coil::broadcast<int> b(2);
    auto rx = b.subscribe();
    for (int i = 0; i < 5; ++i) CHECK(b.send(int(i)).has_value());
    auto r = co_await rx.receive();
    CHECK(!r && r.error() == coil::errc::lagged);
    std::printf("broadcast lagged: %s, skipped %llu\n", r ? "-" : r.error().message().c_str(),
                (unsigned long long)rx.lagged_count());
    auto v3 = co_await rx.receive();
    auto v4 = co_await rx.receive();
    CHECK(v3 && *v3 == 3);
    CHECK(v4 && *v4 == 4);
    auto none = rx.try_receive();
    CHECK(!none && none.error() == std::errc::operation_would_block);
    b.close();
    auto end = co_await rx.receive();
    CHECK(!end && end.error() == coil::errc::closed);
    auto late = b.subscribe();
    auto late_r = co_await late.receive();
    CHECK(!late_r && late_r.error() == coil::errc::closed);
}

coil::task<void> locks() {
    coil::mutex m;
    std::vector<int> order;
    auto worker = [&](int i) -> coil::task<void> {
        auto g = co_await m.lock();
        CHECK(g.has_value());
        order.push_back(i);
        co_await coil::sleep_for(1ms);
    };
    co_await coil::when_all(worker(0), worker(1), worker(2), worker(3));
    CHECK((order == std::vector<int>{0, 1, 2, 3}));
    auto g = m.try_lock();
    CHECK(g.has_value());
    auto timed = co_await coil::with_timeout(m.lock(), 5ms);
    CHECK(!timed && timed.error() == coil::errc::timed_out);

    coil::semaphore s(2);
    auto p1 = co_await s.acquire();
    auto p2 = s.try_acquire();
    CHECK(p1 && p2);
    CHECK(s.available() == 0);
    auto p3 = co_await coil::with_timeout(s.acquire(), 5ms);
    CHECK(!p3);
    p2->release();
    CHECK(s.available() == 1);

    coil::event e;
    auto waiter = [&]() -> coil::task<int> {
        auto r = co_await e.wait();
        co_return r ? 1 : 0;
    };
    auto setter = [&]() -> coil::task<int> {
        co_await coil::sleep_for(2ms);
        e.set();
        co_return 0;
    };
    auto [w1, w2, unused] = co_await coil::when_all(waiter(), waiter(), setter());
    CHECK(w1 == 1 && w2 == 1);
    CHECK(e.is_set());
    e.reset();
    auto t = co_await coil::with_timeout(e.wait(), 5ms);
    CHECK(!t && t.error() == coil::errc::timed_out);
}

coil::task<int> main_task() {
    co_await channels();
    co_await broadcasts();
    co_await locks();
    co_return failures;
}

int main() {
    int f = coil::run(main_task());
    std::printf("%s (%d failures)\n", f ? "FAILED" : "OK", f);
    return f ? 1 : 0;
}
