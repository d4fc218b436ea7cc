// protocol.cpp - see protocol.hpp.
#include "protocol.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <string_view>
#include <sys/socket.h>

namespace baseline {
namespace {

using std::string_view;

constexpr string_view hello = "Hello, World!";
constexpr std::size_t io_chunk = 16 * 1024;  // per blocking connection: small, threads add up

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(string_view a, string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

string_view trim(string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Does the comma-separated list (a Connection field) hold `token`, case-insensitively?
bool has_token(string_view list, string_view token) {
    while (!list.empty()) {
        std::size_t comma = list.find(',');
        if (iequals(trim(list.substr(0, comma)), token)) return true;
        if (comma == string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

// The Date field (RFC 9110 §6.6.1), formatted once a second per thread.
string_view http_date() {
    thread_local time_t last = -1;
    thread_local char buf[40];
    time_t now = time(nullptr);
    if (now != last) {
        tm g{};
        gmtime_r(&now, &g);
        strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &g);
        last = now;
    }
    return buf;
}

void append_number(std::string& out, std::size_t n) {
    char digits[24];
    auto r = std::to_chars(digits, digits + sizeof digits, n);
    out.append(digits, r.ptr);
}

// `connection`: the Connection field to send, empty for none.
void respond(std::string& out, string_view status, string_view body, bool send_body,
             string_view connection, string_view extra_fields = {}) {
    out.append("HTTP/1.1 ").append(status).append("\r\nDate: ").append(http_date());
    out.append("\r\nContent-Type: text/plain\r\nContent-Length: ");
    append_number(out, body.size());
    out.append("\r\n");
    if (!connection.empty()) out.append("Connection: ").append(connection).append("\r\n");
    out.append(extra_fields).append("\r\n");
    if (send_body) out.append(body);
}

void refuse(std::string& out, string_view status) {
    respond(out, status, status.substr(4), true, "close");
}

struct request {
    string_view method, target;
    bool http10 = false;
    bool close = false;
    std::size_t content_length = 0;
};

// A CR, LF or NUL left in a line once the block is split at CRLF: a bare line end or a NUL.
// RFC 9110 §5.5: a field value holding one must be refused (or the character replaced); kept,
// a bare LF hides a field (say Content-Length) from this server that a proxy which ends lines at
// a bare LF (RFC 9112 §2.2 allows it) sees, and the two disagree on where the next request
// starts. The request line gets the same rule.
bool has_stray_control(string_view line) {
    return line.find_first_of(string_view("\r\n\0", 3)) != string_view::npos;
}

// Parses the header block `head` (request line and fields, without the blank line). Returns the
// refusal status, or an empty view if the request is acceptable.
string_view parse_head(string_view head, request& req) {
    std::size_t eol = head.find("\r\n");
    string_view line = head.substr(0, eol);
    head = eol == string_view::npos ? string_view{} : head.substr(eol + 2);
    if (has_stray_control(line)) return "400 Bad Request";

    std::size_t sp1 = line.find(' ');
    std::size_t sp2 = sp1 == string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp1 == 0 || sp2 == string_view::npos || sp2 == sp1 + 1) return "400 Bad Request";
    req.method = line.substr(0, sp1);
    req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    string_view version = line.substr(sp2 + 1);
    if (version == "HTTP/1.0") {
        req.http10 = true;
    } else if (version != "HTTP/1.1") {
        return version.size() == 8 && version.substr(0, 5) == "HTTP/" ? "505 HTTP Version Not Supported"
                                                                       : "400 Bad Request";
    }

    bool keep_alive_token = false;
    bool have_length = false;
    int hosts = 0;
    while (!head.empty()) {
        eol = head.find("\r\n");
        line = head.substr(0, eol);
        head = eol == string_view::npos ? string_view{} : head.substr(eol + 2);
        std::size_t colon = line.find(':');
        if (colon == 0 || colon == string_view::npos || line[0] == ' ' || line[0] == '\t' ||
            has_stray_control(line) ||
            line.substr(0, colon).find_first_of(" \t") != string_view::npos)
            return "400 Bad Request";  // no name, whitespace before the colon, or obs-fold
        string_view name = line.substr(0, colon);
        string_view value = trim(line.substr(colon + 1));
        if (iequals(name, "content-length")) {
            std::size_t n = 0;
            auto r = std::from_chars(value.data(), value.data() + value.size(), n);
            if (value.empty() || r.ec != std::errc{} || r.ptr != value.data() + value.size() ||
                (have_length && n != req.content_length))
                return "400 Bad Request";
            req.content_length = n;
            have_length = true;
        } else if (iequals(name, "transfer-encoding")) {
            return "501 Not Implemented";
        } else if (iequals(name, "host")) {
            ++hosts;
        } else if (iequals(name, "connection")) {
            req.close = req.close || has_token(value, "close");
            keep_alive_token = keep_alive_token || has_token(value, "keep-alive");
        }
    }
    // RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host, and for any with more than one.
    if (hosts > 1 || (!req.http10 && hosts == 0)) return "400 Bad Request";
    if (req.http10 && !keep_alive_token) req.close = true;
    if (req.content_length > max_body_bytes) return "413 Content Too Large";
    return {};
}

void answer(const request& req, string_view body, std::string& out) {
    const bool head = req.method == "HEAD";
    string_view connection = req.close ? "close" : req.http10 ? "keep-alive" : "";
    if (req.target == "/") {
        if (req.method == "GET" || head)
            respond(out, "200 OK", hello, !head, connection);
        else
            respond(out, "405 Method Not Allowed", "Method Not Allowed", true, connection,
                    "Allow: GET, HEAD\r\n");
    } else if (req.target == "/echo") {
        respond(out, "200 OK", body, !head, connection);
    } else {
        respond(out, "404 Not Found", "Not Found", !head, connection);
    }
}

}  // namespace

bool http_consume(std::string& in, std::string& out) {
    string_view data = in;
    std::size_t pos = 0;
    bool keep = true;
    while (keep) {
        // RFC 9112 §2.2: ignore empty lines before a request line.
        while (data.substr(pos, 2) == "\r\n") pos += 2;
        std::size_t end = data.find("\r\n\r\n", pos);
        if (end == string_view::npos) {
            if (data.size() - pos > max_header_bytes) {
                refuse(out, "431 Request Header Fields Too Large");
                keep = false;
            }
            break;
        }
        if (end + 4 - pos > max_header_bytes) {
            refuse(out, "431 Request Header Fields Too Large");
            keep = false;
            break;
        }
        request req;
        if (string_view error = parse_head(data.substr(pos, end - pos), req); !error.empty()) {
            refuse(out, error);
            keep = false;
            break;
        }
        std::size_t body_at = end + 4;
        if (data.size() - body_at < req.content_length) break;  // the body is not all here yet
        answer(req, data.substr(body_at, req.content_length), out);
        pos = body_at + req.content_length;
        keep = !req.close;
    }
    in.erase(0, pos);
    return keep;
}

bool send_all(int fd, const char* data, std::size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, data, n, MSG_NOSIGNAL);
        if (w > 0) {
            data += w;
            n -= static_cast<std::size_t>(w);
        } else if (w < 0 && errno != EINTR) {
            return false;  // EPIPE, ECONNRESET, or shut down by a stop
        }
    }
    return true;
}

void discard_and_shutdown(int fd) {
    shutdown(fd, SHUT_WR);
    char sink[4096];
    for (int i = 0; i < 16 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
    }
}

void serve_blocking(int fd, protocol proto) {
    // On the heap: a thread-per-connection server runs with small stacks.
    std::string buf(io_chunk, '\0');
    std::string in, out;
    for (;;) {
        ssize_t r = recv(fd, buf.data(), buf.size(), 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return;  // EOF, reset, or shut down by a stop
        if (proto == protocol::echo) {
            if (!send_all(fd, buf.data(), static_cast<std::size_t>(r))) return;
            continue;
        }
        in.append(buf.data(), static_cast<std::size_t>(r));
        bool keep = http_consume(in, out);
        if (!out.empty() && !send_all(fd, out.data(), out.size())) return;
        out.clear();
        if (!keep) {
            discard_and_shutdown(fd);
            return;
        }
    }
}

}  // namespace baseline
