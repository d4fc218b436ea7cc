#pragma once
// Test kit: a small HTTP/1.1 client on coil's tcp_stream, written independently of coil::http so
// that tests check the server against a separate reading of the protocol. Every read is bounded.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "coil/net/tcp_stream.hpp"
#include "coil/runtime/task.hpp"

namespace coil::testing {

struct http_response {
    int status = 0;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> fields;  // names lower-cased
    std::string body;
    bool chunked = false;
    /// The first field named `name` (lower case), or nullopt.
    [[nodiscard]] std::optional<std::string> field(std::string_view name) const;
};

class http_client {
public:
    /// Connects to 127.0.0.1:port; nullopt on failure (within 5 s).
    static task<std::optional<http_client>> connect(std::uint16_t port);
    explicit http_client(tcp_stream stream) : stream_(std::move(stream)) {}

    /// Sends all of `text`.
    task<bool> send(std::string_view text);
    /// Reads one response (a 1xx counts as one). `head_request`: no body follows.
    /// nullopt on EOF, error, a malformed response, or `timeout`.
    task<std::optional<http_response>> read_response(bool head_request = false,
                                                     std::chrono::milliseconds timeout = std::chrono::seconds(5));
    /// True if the server closes (EOF or reset) within `timeout` having sent nothing more.
    task<bool> closed_within(std::chrono::milliseconds timeout);
    /// One recv appended to buffered(); false on EOF, error or timeout.
    task<bool> fill(std::chrono::milliseconds timeout);

    [[nodiscard]] std::string& buffered() noexcept { return buf_; }
    [[nodiscard]] tcp_stream& stream() noexcept { return stream_; }

private:
    tcp_stream stream_;
    std::string buf_;
};

/// "GET path HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n".
std::string get_request(std::string_view path, std::string_view extra = {});

}  // namespace coil::testing
