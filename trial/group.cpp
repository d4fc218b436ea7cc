// Trial of coil::loop_group with 2 loops, switch_to, and sync primitives across loops (issue 11).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <coil/coil.hpp>

using namespace std::chrono_literals;

static std::atomic<int> failures{0};
#define CHECK(c)                                                     \
    do {                                                             \
        if (!(c)) {                                                  \
            std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); \
            ++failures;                                              \
        }                                                            \
    } while (0)

struct shared_state {
    coil::channel<int> jobs{4};
    coil::channel<std::string> results{coil::unbounded};
    coil::broadcast<std::string> news{8};
    coil::event ready;
    coil::mutex lock;
    coil::semaphore slots{1};
    long counter = 0;  // protected by lock
    std::atomic<int> in_slot{0};
    std::thread::id loop_thread[2];
    coil::loop_group* group = nullptr;
};

coil::task<void> producer(shared_state& s) {
    auto r = co_await s.ready.wait();
    CHECK(r.has_value());
    for (int i = 0; i < 100; ++i) {
        auto sent = co_await s.jobs.send(i);
        CHECK(sent.has_value());
    }
    s.jobs.close();
    auto after = co_await s.jobs.send(999);
    CHECK(!after && after.error() == coil::errc::closed);
}

coil::task<void> consumer(shared_state& s, std::size_t index) {
    int got = 0;
    long sum = 0;
    for (;;) {
        auto v = co_await s.jobs.receive();
        if (!v) {
            CHECK(v.error() == coil::errc::closed);
            break;
        }
        CHECK(std::this_thread::get_id() == s.loop_thread[index]);
        ++got;
        sum += *v;
        {
            auto g = co_await s.lock.lock();
            CHECK(g.has_value());
            ++s.counter;
        }
        auto p = co_await s.slots.acquire();
        CHECK(p.has_value());
        CHECK(++s.in_slot == 1);
        co_await coil::yield();
        --s.in_slot;
    }
    (void)co_await s.results.send("loop " + std::to_string(index) + " got " + std::to_string(got) + " sum " +
                                  std::to_string(sum));
}

coil::task<void> hop(shared_state& s, std::size_t index) {
    auto& home = coil::event_loop::current_or_throw();
    const auto home_thread = std::this_thread::get_id();
    auto& other = s.group->loop(1 - index);
    co_await coil::switch_to(other);
    CHECK(std::this_thread::get_id() == s.loop_thread[1 - index]);
    co_await coil::switch_to(home);
    CHECK(std::this_thread::get_id() == home_thread);
}

coil::task<void> listen_news(shared_state& s, coil::broadcast<std::string>::receiver inbox, std::size_t index) {
    int n = 0;
    for (;;) {
        auto m = co_await inbox.receive();
        if (!m) {
            std::printf("loop %zu news end: %s after %d\n", index, m.error().message().c_str(), n);
            break;
        }
        CHECK(std::this_thread::get_id() == s.loop_thread[index]);
        ++n;
    }
    CHECK(n == 3);
}

int main() {
    shared_state s;
    std::atomic<int> started{0};
    auto rx0 = s.news.subscribe();
    auto rx1 = s.news.subscribe();
    std::vector<coil::broadcast<std::string>::receiver> rxs;
    rxs.push_back(std::move(rx0));
    rxs.push_back(std::move(rx1));
    coil::loop_group group({.threads = 2}, [&](std::size_t i) -> coil::task<void> {
        s.loop_thread[i] = std::this_thread::get_id();
        if (++started == 2) s.ready.set();
        auto ev = co_await s.ready.wait();
        CHECK(ev.has_value());
        co_await hop(s, i);
        for (int k = 0; k < 20; ++k) {  // offload from each loop resumes on that loop
            auto r = co_await coil::offload([] { return std::this_thread::get_id(); });
            CHECK(r && *r != s.loop_thread[i]);
            CHECK(std::this_thread::get_id() == s.loop_thread[i]);
        }
        co_await coil::when_all(consumer(s, i), listen_news(s, std::move(rxs[i]), i),
                                [&]() -> coil::task<void> {
                                    if (i == 0) co_await producer(s);
                                }());
        // wait for stop
        auto never = co_await coil::sleep_for(std::chrono::hours(1));
        std::printf("loop %zu entry: sleep ended: %s\n", i, never ? "elapsed" : never.error().message().c_str());
    });
    s.group = &group;
    std::this_thread::sleep_for(50ms);
    for (const char* m : {"a", "b", "c"}) CHECK(s.news.send(m).has_value());
    s.news.close();
    std::this_thread::sleep_for(300ms);
    group.stop();
    std::printf("counter %ld\n", s.counter);
    CHECK(s.counter == 100);
    for (;;) {
        auto r = s.results.try_receive();
        if (!r) break;
        std::printf("%s\n", r->c_str());
    }
    std::printf("%s (%d failures)\n", failures ? "FAILED" : "OK", failures.load());
    return failures ? 1 : 0;
}
