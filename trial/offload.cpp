// Trial of coil::offload / thread_pool::run as a new user (issue 11).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <coil/coil.hpp>

using namespace std::chrono_literals;

static int failures = 0;
#define CHECK(c)                                                         \
    do {                                                                 \
        if (!(c)) {                                                      \
            std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c);     \
            ++failures;                                                  \
        }                                                                \
    } while (0)

coil::task<void> values() {
    const auto home = std::this_thread::get_id();
    std::thread::id ran_on;
    auto job = [&ran_on] {
        ran_on = std::this_thread::get_id();
        long s = 0;
        for (int i = 0; i < 1000000; ++i) s += i % 7;
        return s;
    };
    auto r = co_await coil::offload(job);
    CHECK(r.has_value());
    CHECK(*r > 0);
    CHECK(ran_on != home);
    CHECK(std::this_thread::get_id() == home);
    auto v = co_await coil::offload([] {});
    CHECK(v.has_value());
    CHECK(std::this_thread::get_id() == home);
    // a string result
    auto s = co_await coil::offload([] { return std::string(100, 'x'); });
    CHECK(s && s->size() == 100);
    std::printf("values: ok (home resumed)\n");
}

coil::task<void> exceptions() {
    bool caught = false;
    try {
        auto r = co_await coil::offload([]() -> int { throw std::runtime_error("boom"); });
        (void)r;
    } catch (const std::runtime_error& e) {
        caught = std::string(e.what()) == "boom";
    }
    CHECK(caught);
    std::printf("exceptions: caught=%d\n", caught);
}

coil::task<void> timeouts() {
    // stop-aware job under with_timeout: what does the user get?
    auto t0 = std::chrono::steady_clock::now();
    auto job = [](std::stop_token st) {
        while (!st.stop_requested()) std::this_thread::sleep_for(1ms);
        return 42;
    };
    auto r = co_await coil::with_timeout(coil::offload(job), 50ms);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    std::printf("timeout stop-aware: has_value=%d value=%d err=%s after %lld ms\n", r.has_value(),
                r ? *r : -1, r ? "-" : r.error().message().c_str(), (long long)ms);

    // job ignoring the stop token: await waits for it
    t0 = std::chrono::steady_clock::now();
    auto r2 = co_await coil::with_timeout(coil::offload([] {
        std::this_thread::sleep_for(300ms);
        return 7;
    }), 50ms);
    ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    std::printf("timeout non-stop-aware: has_value=%d err=%s after %lld ms\n", r2.has_value(),
                r2 ? "-" : r2.error().message().c_str(), (long long)ms);

    // abandon_on_cancel: ends at once
    t0 = std::chrono::steady_clock::now();
    auto r3 = co_await coil::with_timeout(coil::offload([] {
        std::this_thread::sleep_for(300ms);
        return 7;
    }).abandon_on_cancel(), 50ms);
    ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    std::printf("timeout abandon: has_value=%d err=%s timed_out=%d after %lld ms\n", r3.has_value(),
                r3 ? "-" : r3.error().message().c_str(), !r3 && r3.error() == coil::errc::timed_out,
                (long long)ms);
    CHECK(!r3 && r3.error() == coil::errc::timed_out);
    CHECK(ms < 250);
}

coil::task<void> one_job(coil::thread_pool& pool, int i, std::vector<int>& order, std::atomic<int>& running_max,
                         std::atomic<int>& running) {
    auto r = co_await pool.run([i, &running, &running_max] {
        int now = ++running;
        int m = running_max.load();
        while (now > m && !running_max.compare_exchange_weak(m, now)) {}
        std::this_thread::sleep_for(20ms);
        --running;
        return i;
    });
    if (r) order.push_back(*r);
}

coil::task<void> backpressure() {
    coil::thread_pool pool({.threads = 1, .queue_capacity = 2});
    std::vector<int> order;
    std::atomic<int> running{0}, running_max{0};
    coil::task_group g(co_await coil::current_cancel_token());
    for (int i = 0; i < 8; ++i) g.spawn(one_job(pool, i, order, running_max, running));
    co_await coil::sleep_for(5ms);
    std::printf("backpressure: queued=%zu waiting=%zu running=%zu\n", pool.queued(), pool.waiting(),
                pool.running());
    CHECK(pool.queued() <= 2);
    co_await g.join();
    std::printf("backpressure: order:");
    for (int v : order) std::printf(" %d", v);
    std::printf(" max running %d\n", running_max.load());
    CHECK(order.size() == 8);
    for (int i = 0; i < (int)order.size(); ++i) CHECK(order[i] == i);
}

coil::task<void> pool_stop() {
    auto pool = std::make_unique<coil::thread_pool>(coil::pool_options{.threads = 1, .queue_capacity = 4});
    std::vector<int> order;
    std::atomic<int> running{0}, running_max{0};
    coil::task_group g(co_await coil::current_cancel_token());
    for (int i = 0; i < 4; ++i) g.spawn(one_job(*pool, i, order, running_max, running));
    co_await coil::sleep_for(5ms);
    pool->stop();  // blocks the loop while the running job finishes (it's 20ms)
    co_await g.join();
    std::printf("pool_stop: delivered %zu of 4 (expect 1: the running one)\n", order.size());
    CHECK(order.size() == 1);
    // run after stop
    auto r = co_await pool->run([] { return 1; });
    std::printf("run after stop: %s\n", r ? "value" : r.error().message().c_str());
    CHECK(!r && r.error() == std::errc::operation_canceled);
}

coil::task<void> cancel_queued() {
    coil::thread_pool pool({.threads = 1, .queue_capacity = 4});
    coil::cancel_source src;
    auto blocker = [] { std::this_thread::sleep_for(100ms); return 0; };
    long long waited_ms = -1;
    auto waiter = [&waited_ms](coil::thread_pool& p) -> coil::task<int> {
        auto t = std::chrono::steady_clock::now();
        auto r = co_await p.run([] { return 5; });
        waited_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t).count();
        co_return r ? *r : (r.error() == std::errc::operation_canceled ? -1 : -2);
    };
    auto t0 = std::chrono::steady_clock::now();
    auto [a, b] = co_await coil::when_all(
        [&]() -> coil::task<int> { auto r = co_await pool.run(blocker); co_return r ? *r : -3; }(),
        coil::with_timeout(waiter(pool), 10ms));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    std::printf("cancel_queued: blocker=%d queued-one=%s, its await ended after %lld ms, all after %lld ms\n", a,
                b ? std::to_string(*b).c_str() : b.error().message().c_str(), waited_ms, (long long)ms);
    CHECK(waited_ms >= 0 && waited_ms < 80);
    CHECK(!b && b.error() == coil::errc::timed_out);
}

coil::task<int> main_task() {
    co_await values();
    co_await exceptions();
    co_await timeouts();
    co_await backpressure();
    co_await pool_stop();
    co_await cancel_queued();
    co_return failures;
}

int main() {
    int f = coil::run(main_task());
    std::printf("%s (%d failures)\n", f ? "FAILED" : "OK", f);
    return f ? 1 : 0;
}
