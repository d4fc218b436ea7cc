#include "coil/http/static_files.hpp"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <memory>
#include <optional>
#include <system_error>

#include "coil/http/date_cache.hpp"
#include "coil/runtime/unique_fd.hpp"

namespace coil::http {

namespace {

struct static_root {
    unique_fd dir;
    std::string real;  // realpath of the root, for the fallback check
};

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The relative path to open, or nullopt if it must not be opened: bad percent-encoding, a
// decoded NUL, an empty name, or a "." or ".." segment (decoded, so %2e%2e and %2f count).
std::optional<std::string> decode_relative(std::string_view encoded) {
    std::string out;
    out.reserve(encoded.size());
    for (std::size_t i = 0; i < encoded.size(); ++i) {
        char c = encoded[i];
        if (c == '%') {
            if (i + 2 >= encoded.size()) return std::nullopt;
            const int hi = hex_value(encoded[i + 1]);
            const int lo = hex_value(encoded[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            c = static_cast<char>(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0') return std::nullopt;
        out += c;
    }
    while (!out.empty() && out.front() == '/') out.erase(0, 1);
    if (out.empty() || out.back() == '/') return std::nullopt;
    for (std::size_t pos = 0; pos <= out.size();) {
        std::size_t end = out.find('/', pos);
        if (end == std::string::npos) end = out.size();
        const std::string_view segment(out.data() + pos, end - pos);
        if (segment == "." || segment == "..") return std::nullopt;
        pos = end + 1;
    }
    return out;
}

// Opens `relative` under the root, never outside it. -errno on failure.
// O_NONBLOCK: opening a FIFO (or a device) for reading may block until a writer comes, and this
// runs on the event loop thread; with it open() returns at once and the fstat() check then
// refuses whatever is not a regular file. It changes nothing for regular files (sendfile(2)
// reads them in full whatever the flag).
int open_beneath(const static_root& root, const std::string& relative) {
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    const long fd = ::syscall(SYS_openat2, root.dir.get(), relative.c_str(), &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    if (errno != ENOSYS) return errno == EXDEV ? -ENOENT : -errno;  // EXDEV: it tried to escape
    // Fallback: resolve every link and check that the result is still under the root.
    char resolved[PATH_MAX];
    const std::string full = root.real + "/" + relative;
    if (::realpath(full.c_str(), resolved) == nullptr) return -errno;
    const std::string_view r(resolved);
    if (r.substr(0, root.real.size()) != root.real || r.size() <= root.real.size() ||
        r[root.real.size()] != '/') {
        return -ENOENT;
    }
    const int f = ::open(resolved, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
    return f >= 0 ? f : -errno;
}

void append_hex(std::string& out, std::uint64_t v) {
    char digits[20];
    const auto r = std::to_chars(digits, digits + sizeof digits, v, 16);
    out.append(digits, static_cast<std::size_t>(r.ptr - digits));
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// If-None-Match: "*" or a list of entity tags; weak comparison (RFC 9110 §13.1.2).
bool none_match_hits(std::string_view header, std::string_view etag) noexcept {
    if (trim(header) == "*") return true;
    for (std::size_t pos = 0; pos <= header.size();) {
        std::size_t end = header.find(',', pos);
        if (end == std::string_view::npos) end = header.size();
        std::string_view tag = trim(header.substr(pos, end - pos));
        if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
        if (tag == etag) return true;
        pos = end + 1;
    }
    return false;
}

bool parse_u64(std::string_view s, std::uint64_t& out) noexcept {
    if (s.empty()) return false;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

struct byte_range {
    enum class kind : std::uint8_t { none, satisfiable, unsatisfiable } status = kind::none;
    std::uint64_t first = 0;
    std::uint64_t last = 0;
};

// One "bytes=" range against `size`; several ranges or a malformed header: none (send all).
byte_range parse_range(std::string_view header, std::uint64_t size) noexcept {
    byte_range r;
    header = trim(header);
    if (header.substr(0, 6) != "bytes=") return r;
    header.remove_prefix(6);
    if (header.find(',') != std::string_view::npos) return r;
    const std::size_t dash = header.find('-');
    if (dash == std::string_view::npos) return r;
    const std::string_view a = trim(header.substr(0, dash));
    const std::string_view b = trim(header.substr(dash + 1));
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    if (a.empty()) {  // suffix: the last n bytes
        if (!parse_u64(b, last)) return r;
        if (last == 0 || size == 0) {
            r.status = byte_range::kind::unsatisfiable;
            return r;
        }
        r.first = last >= size ? 0 : size - last;
        r.last = size - 1;
        r.status = byte_range::kind::satisfiable;
        return r;
    }
    if (!parse_u64(a, first)) return r;
    if (b.empty()) {
        last = size == 0 ? 0 : size - 1;
    } else if (!parse_u64(b, last) || last < first) {
        return r;  // invalid: ignored (RFC 9110 §14.1.1)
    }
    if (first >= size) {
        r.status = byte_range::kind::unsatisfiable;
        return r;
    }
    r.first = first;
    r.last = last >= size ? size - 1 : last;
    r.status = byte_range::kind::satisfiable;
    return r;
}

task<void> serve_file(std::shared_ptr<const static_root> root, std::size_t prefix_size, request& req,
                      response& res) {
    const auto relative = decode_relative(req.path().substr(prefix_size));
    if (!relative) {
        res.set_status(404);
        res.set_body("Not Found\n");
        co_return;
    }
    const int opened = open_beneath(*root, *relative);
    if (opened < 0) {
        res.set_status(opened == -EACCES ? 403 : 404);
        res.set_body(opened == -EACCES ? "Forbidden\n" : "Not Found\n");
        co_return;
    }
    unique_fd file(opened);
    struct stat st{};
    if (::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        res.set_status(404);
        res.set_body("Not Found\n");
        co_return;
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    std::string etag = "\"";
    append_hex(etag, static_cast<std::uint64_t>(st.st_mtim.tv_sec));
    etag += '.';
    append_hex(etag, static_cast<std::uint64_t>(st.st_mtim.tv_nsec));
    etag += '-';
    append_hex(etag, size);
    etag += '"';
    char last_modified[date_cache::length];
    date_cache::format(st.st_mtim.tv_sec, last_modified);
    const std::string_view modified(last_modified, sizeof last_modified);

    res.add_header("ETag", etag);
    res.add_header("Last-Modified", modified);
    const std::string_view none_match = req.field("If-None-Match");
    const bool not_modified = none_match.data() != nullptr ? none_match_hits(none_match, etag)
                                                           : trim(req.field("If-Modified-Since")) == modified;
    if (not_modified) {
        res.set_status(304);
        co_return;
    }
    res.add_header("Content-Type", content_type_for(*relative));
    res.add_header("Accept-Ranges", "bytes");

    byte_range range;
    const std::string_view range_header = req.field("Range");
    const std::string_view if_range = trim(req.field("If-Range"));
    if (range_header.data() != nullptr && (if_range.empty() || if_range == etag || if_range == modified)) {
        range = parse_range(range_header, size);
    }
    std::string content_range = "bytes ";
    if (range.status == byte_range::kind::unsatisfiable) {
        content_range += "*/" + std::to_string(size);
        res.set_status(416);
        res.add_header("Content-Range", content_range);
        res.set_body("Range Not Satisfiable\n");
        co_return;
    }
    std::uint64_t offset = 0;
    std::uint64_t length = size;
    if (range.status == byte_range::kind::satisfiable) {
        offset = range.first;
        length = range.last - range.first + 1;
        content_range += std::to_string(range.first) + "-" + std::to_string(range.last) + "/" + std::to_string(size);
        res.set_status(206);
        res.add_header("Content-Range", content_range);
    }
    auto sent = co_await res.send_file(file.get(), offset, length);
    (void)sent;  // a failure closes the connection (the server knows); nothing else to do
}

}  // namespace

std::string_view content_type_for(std::string_view name) noexcept {
    const std::size_t dot = name.rfind('.');
    const std::size_t slash = name.rfind('/');
    if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
        return "application/octet-stream";
    }
    std::string_view ext = name.substr(dot + 1);
    char lower[8] = {};
    if (ext.size() >= sizeof lower) return "application/octet-stream";
    for (std::size_t i = 0; i < ext.size(); ++i) {
        const char c = ext[i];
        lower[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
    }
    ext = std::string_view(lower, ext.size());
    static constexpr std::pair<std::string_view, std::string_view> types[] = {
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"json", "application/json"},
        {"txt", "text/plain; charset=utf-8"},
        {"xml", "application/xml"},
        {"svg", "image/svg+xml"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"ico", "image/x-icon"},
        {"wasm", "application/wasm"},
        {"pdf", "application/pdf"},
        {"woff2", "font/woff2"},
        {"woff", "font/woff"},
    };
    for (const auto& [e, type] : types) {
        if (e == ext) return type;
    }
    return "application/octet-stream";
}

void add_static_files(router& routes, std::string_view url_prefix, const std::string& root_path) {
    auto root = std::make_shared<static_root>();
    const int dir = ::open(root_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) throw std::system_error(errno, std::generic_category(), "coil::http: static root " + root_path);
    root->dir = unique_fd(dir);
    char resolved[PATH_MAX];
    if (::realpath(root_path.c_str(), resolved) == nullptr) {
        throw std::system_error(errno, std::generic_category(), "coil::http: static root " + root_path);
    }
    root->real = resolved;
    std::string pattern(url_prefix);
    if (pattern.empty() || pattern.back() != '/') pattern += '/';
    const std::size_t prefix_size = pattern.size();
    pattern += '*';
    auto handler = [root, prefix_size](request& req, response& res) -> task<void> {
        return serve_file(root, prefix_size, req, res);
    };
    routes.add("GET", pattern, handler);
    routes.add("HEAD", pattern, handler);
}

}  // namespace coil::http
