// coil::http::add_static_files on both backends: content, types, conditionals, ranges, and
// attempts to leave the root (.., percent-encoded dots and slashes, symlinks out of the root).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "coil/http/static_files.hpp"
#include "coil/runtime.hpp"
#include "support/http_drive.hpp"
#include "support/backend_test.hpp"
#include "support/http_client.hpp"

namespace {

using namespace std::chrono_literals;
using coil::task;
using coil::http::router;
using coil::http::server;
using coil::testing::drive;
using coil::testing::get_request;
using coil::testing::http_client;
namespace fs = std::filesystem;

void write_file(const fs::path& p, const std::string& content) {
    std::ofstream(p, std::ios::binary) << content;
}

std::string big_content() {
    std::string s(8 << 20, '\0');  // over the socket buffer: sendfile waits for writability
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>((i * 31 + 7) & 0xff);
    return s;
}

// A scratch tree:  base/secret.txt (outside the root) and base/www/ (the root) holding
// hello.txt, sub/page.html, big.bin, inside -> hello.txt, escape -> ../secret.txt,
// absolute -> base/secret.txt.
class StaticFilesTest : public coil::testing::BackendTest {
protected:
    void SetUp() override {
        BackendTest::SetUp();
        char tmpl[] = "/tmp/coil_static_XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        base_ = tmpl;
        root_ = base_ / "www";
        fs::create_directories(root_ / "sub");
        write_file(base_ / "secret.txt", "top secret");
        write_file(root_ / "hello.txt", "hello static");
        write_file(root_ / "sub" / "page.html", "<p>page</p>");
        write_file(root_ / "big.bin", big_content());
        fs::create_symlink("hello.txt", root_ / "inside");
        fs::create_symlink("../secret.txt", root_ / "escape");
        fs::create_symlink(base_ / "secret.txt", root_ / "absolute");
        coil::http::add_static_files(routes_, "/static/", root_.string());
    }
    void TearDown() override {
        routes_ = router();  // releases the root's fd before the fd-leak check
        std::error_code ignored;
        fs::remove_all(base_, ignored);
        BackendTest::TearDown();
    }

    fs::path base_;
    fs::path root_;
    router routes_;
};

// One GET on a new connection; the response or nullopt.
task<std::optional<coil::testing::http_response>> fetch(std::uint16_t port, std::string request,
                                                        bool head = false) {
    auto c = co_await http_client::connect(port);
    if (!c) co_return std::nullopt;
    const bool sent = co_await c->send(request);
    if (!sent) co_return std::nullopt;
    co_return co_await c->read_response(head);
}

TEST_P(StaticFilesTest, ServesFilesWithTypeValidatorsAndLength) {
    EXPECT_TRUE(run(drive(routes_, {}, [](server&, std::uint16_t port) -> task<bool> {
        auto txt = co_await fetch(port, get_request("/static/hello.txt"));
        auto html = co_await fetch(port, get_request("/static/sub/page.html"));
        auto big = co_await fetch(port, get_request("/static/big.bin"));
        auto link = co_await fetch(port, get_request("/static/inside"));
        auto head = co_await fetch(port, "HEAD /static/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n", true);
        EXPECT_TRUE(txt && txt->status == 200 && txt->body == "hello static");
        EXPECT_TRUE(txt && txt->field("content-type") == "text/plain; charset=utf-8");
        EXPECT_TRUE(txt && txt->field("etag") && txt->field("last-modified") &&
                    txt->field("accept-ranges") == "bytes");
        EXPECT_TRUE(html && html->status == 200 && html->body == "<p>page</p>" &&
                    html->field("content-type") == "text/html; charset=utf-8");
        EXPECT_TRUE(big && big->status == 200 && big->body == big_content());
        EXPECT_TRUE(link && link->status == 200 && link->body == "hello static");  // a link inside
        EXPECT_TRUE(head && head->status == 200 && head->field("content-length") == "12" && head->body.empty());
        co_return txt && html && big && link && head;
    })));
}

TEST_P(StaticFilesTest, NeverServesAnythingOutsideTheRoot) {
    EXPECT_TRUE(run(drive(routes_, {}, [](server&, std::uint16_t port) -> task<bool> {
        const std::vector<std::string> attempts = {
            "/static/../secret.txt",
            "/static/%2e%2e/secret.txt",
            "/static/%2E%2E%2Fsecret.txt",
            "/static/sub/..%2f..%2fsecret.txt",
            "/static/sub/%2e%2e/%2e%2e/secret.txt",
            "/static/%2fetc%2fpasswd",
            "/static//etc/passwd",
            "/static/escape",
            "/static/absolute",
            "/static/./hello.txt",
            "/static/hello.txt%00.png",
            "/static/sub",
            "/static/",
        };
        bool all_refused = true;
        for (const auto& target : attempts) {
            auto r = co_await fetch(port, get_request(target));
            const bool refused = r && r->status == 404 && r->body.find("secret") == std::string::npos &&
                                 r->body.find("root:") == std::string::npos;
            EXPECT_TRUE(refused) << target << " -> " << (r ? r->status : 0);
            all_refused = all_refused && refused;
        }
        co_return all_refused;
    })));
}

TEST_P(StaticFilesTest, ConditionalRequestsGet304) {
    EXPECT_TRUE(run(drive(routes_, {}, [](server&, std::uint16_t port) -> task<bool> {
        auto first = co_await fetch(port, get_request("/static/hello.txt"));
        if (!first || !first->field("etag") || !first->field("last-modified")) co_return false;
        const std::string etag = *first->field("etag");
        const std::string modified = *first->field("last-modified");
        auto by_etag = co_await fetch(port, get_request("/static/hello.txt", "If-None-Match: \"x\", " + etag + "\r\n"));
        auto by_date = co_await fetch(port, get_request("/static/hello.txt", "If-Modified-Since: " + modified + "\r\n"));
        auto other = co_await fetch(port, get_request("/static/hello.txt", "If-None-Match: \"other\"\r\n"));
        EXPECT_TRUE(by_etag && by_etag->status == 304 && by_etag->body.empty() && by_etag->field("etag") == etag);
        EXPECT_TRUE(by_date && by_date->status == 304);
        EXPECT_TRUE(other && other->status == 200 && other->body == "hello static");
        co_return by_etag && by_etag->status == 304 && by_date && by_date->status == 304 && other &&
            other->status == 200;
    })));
}

TEST_P(StaticFilesTest, SingleRangeGets206AndUnsatisfiableGets416) {
    EXPECT_TRUE(run(drive(routes_, {}, [](server&, std::uint16_t port) -> task<bool> {
        auto middle = co_await fetch(port, get_request("/static/hello.txt", "Range: bytes=1-4\r\n"));
        auto suffix = co_await fetch(port, get_request("/static/hello.txt", "Range: bytes=-6\r\n"));
        auto open_end = co_await fetch(port, get_request("/static/hello.txt", "Range: bytes=6-\r\n"));
        auto beyond = co_await fetch(port, get_request("/static/hello.txt", "Range: bytes=12-20\r\n"));
        auto several = co_await fetch(port, get_request("/static/hello.txt", "Range: bytes=0-1,3-4\r\n"));
        auto big = co_await fetch(port, get_request("/static/big.bin", "Range: bytes=1000-500999\r\n"));
        EXPECT_TRUE(middle && middle->status == 206 && middle->body == "ello" &&
                    middle->field("content-range") == "bytes 1-4/12");
        EXPECT_TRUE(suffix && suffix->status == 206 && suffix->body == "static");
        EXPECT_TRUE(open_end && open_end->status == 206 && open_end->body == "static" &&
                    open_end->field("content-range") == "bytes 6-11/12");
        EXPECT_TRUE(beyond && beyond->status == 416 && beyond->field("content-range") == "bytes */12");
        EXPECT_TRUE(several && several->status == 200 && several->body == "hello static");
        EXPECT_TRUE(big && big->status == 206 && big->body == big_content().substr(1000, 500000));
        co_return middle && middle->status == 206 && suffix && open_end && beyond && beyond->status == 416 &&
            several && big && big->status == 206;
    })));
}

// Bug: the file was opened with a blocking open(2) on the loop thread, so GET of a FIFO in the
// root blocked the whole loop (every connection) until some writer opened the FIFO. A helper
// thread plays that writer after 2 s, so the old code fails here instead of hanging.
TEST_P(StaticFilesTest, FifoInTheRootIsRefusedWithoutBlockingTheLoop) {
    const fs::path fifo = root_ / "pipe";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    std::atomic<bool> done{false};
    std::atomic<bool> had_to_unblock{false};
    std::thread writer([&] {
        const auto deadline = std::chrono::steady_clock::now() + 2s;
        while (!done.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
        for (int i = 0; i < 300 && !done.load(); ++i) {  // a reader blocked in open(): let it go
            const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
            if (fd >= 0) {
                had_to_unblock = true;
                ::close(fd);
                break;
            }
            std::this_thread::sleep_for(10ms);
        }
    });
    const bool ok = run(drive(routes_, {}, [](server&, std::uint16_t port) -> task<bool> {
        auto r = co_await fetch(port, get_request("/static/pipe"));
        auto after = co_await fetch(port, get_request("/static/hello.txt"));
        co_return r && r->status == 404 && after && after->status == 200;
    }));
    done = true;
    writer.join();
    EXPECT_TRUE(ok);
    EXPECT_FALSE(had_to_unblock) << "open() of the FIFO blocked the event loop";
}

COIL_INSTANTIATE_BACKEND_TEST(StaticFilesTest);

TEST(StaticFilesSetupTest, MissingRootThrowsAndTypesFollowExtensions) {
    router r;
    EXPECT_THROW(coil::http::add_static_files(r, "/s/", "/nonexistent/coil/root"), std::system_error);
    EXPECT_EQ(coil::http::content_type_for("a/b.CSS"), "text/css; charset=utf-8");
    EXPECT_EQ(coil::http::content_type_for("x.png"), "image/png");
    EXPECT_EQ(coil::http::content_type_for("dir.d/noext"), "application/octet-stream");
}

}  // namespace
