#include "support/http_client.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "coil/net/tcp_connect.hpp"
#include "coil/runtime/with_timeout.hpp"

namespace coil::testing {

using namespace std::chrono_literals;

std::optional<std::string> http_response::field(std::string_view name) const {
    for (const auto& [n, v] : fields) {
        if (n == name) return v;
    }
    return std::nullopt;
}

std::string get_request(std::string_view path, std::string_view extra) {
    std::string out = "GET ";
    out += path;
    out += " HTTP/1.1\r\nHost: t\r\n";
    out += extra;
    out += "\r\n";
    return out;
}

task<std::optional<http_client>> http_client::connect(std::uint16_t port) {
    auto s = co_await tcp_connect(ip_endpoint::loopback_v4(port), 5s);
    if (!s) co_return std::nullopt;
    co_return http_client(std::move(*s));
}

task<bool> http_client::send(std::string_view text) {
    auto r = co_await with_timeout(stream_.send_all(std::as_bytes(std::span(text.data(), text.size()))), 5s);
    co_return r.has_value();
}

task<bool> http_client::fill(std::chrono::milliseconds timeout) {
    char chunk[64 * 1024];
    auto n = co_await with_timeout(stream_.recv(std::as_writable_bytes(std::span(chunk))), timeout);
    if (!n) co_return false;
    buf_.append(chunk, *n);
    co_return true;
}

task<bool> http_client::closed_within(std::chrono::milliseconds timeout) {
    char chunk[4096];
    auto n = co_await with_timeout(stream_.recv(std::as_writable_bytes(std::span(chunk))), timeout);
    if (n) co_return false;  // more data
    co_return n.error() == errc::eof || n.error() == std::errc::connection_reset;
}

task<std::optional<http_response>> http_client::read_response(bool head_request, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto left = [&] {
        return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()),
                        std::chrono::milliseconds(1));
    };
    std::size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
        const bool more = co_await fill(left());
        if (!more) co_return std::nullopt;
    }
    http_response r;
    const std::string head = buf_.substr(0, head_end + 2);
    buf_.erase(0, head_end + 4);
    std::size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    if (status_line.rfind("HTTP/1.1 ", 0) != 0 || status_line.size() < 12) co_return std::nullopt;
    r.status = std::atoi(status_line.substr(9, 3).c_str());
    r.reason = status_line.size() > 13 ? status_line.substr(13) : "";
    for (std::size_t pos = line_end + 2; pos < head.size();) {
        const std::size_t end = head.find("\r\n", pos);
        const std::string line = head.substr(pos, end - pos);
        pos = end + 2;
        const std::size_t colon = line.find(':');
        if (colon == std::string::npos) co_return std::nullopt;
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        r.fields.emplace_back(std::move(name), std::move(value));
    }
    if (r.status < 200 || head_request || r.status == 204 || r.status == 304) co_return r;
    if (auto te = r.field("transfer-encoding")) {
        if (*te != "chunked") co_return std::nullopt;
        r.chunked = true;
        for (;;) {
            std::size_t eol;
            while ((eol = buf_.find("\r\n")) == std::string::npos) {
                const bool more = co_await fill(left());
                if (!more) co_return std::nullopt;
            }
            const std::size_t size = std::strtoul(buf_.substr(0, eol).c_str(), nullptr, 16);
            if (size == 0) {
                // No trailers from coil: the last chunk is followed by the empty line.
                while (buf_.size() < eol + 4) {
                    const bool more = co_await fill(left());
                    if (!more) co_return std::nullopt;
                }
                if (buf_.compare(eol, 4, "\r\n\r\n") != 0) co_return std::nullopt;
                buf_.erase(0, eol + 4);
                co_return r;
            }
            while (buf_.size() < eol + 2 + size + 2) {
                const bool more = co_await fill(left());
                if (!more) co_return std::nullopt;
            }
            r.body.append(buf_, eol + 2, size);
            if (buf_.compare(eol + 2 + size, 2, "\r\n") != 0) co_return std::nullopt;
            buf_.erase(0, eol + 2 + size + 2);
        }
    }
    auto cl = r.field("content-length");
    if (!cl) co_return std::nullopt;  // coil always frames its responses
    const std::size_t length = std::strtoul(cl->c_str(), nullptr, 10);
    while (buf_.size() < length) {
        const bool more = co_await fill(left());
        if (!more) co_return std::nullopt;
    }
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    co_return r;
}

}  // namespace coil::testing
