#include "coil/http/response.hpp"

#include <stdexcept>

#include "coil/http/connection.hpp"

namespace coil::http {

namespace {

bool is_tchar(unsigned char c) noexcept {  // RFC 9110 §5.6.2
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~': return true;
    default: return false;
    }
}

// Field values and reason phrases: visible octets, SP, HTAB, obs-text (RFC 9110 §5.5).
bool is_field_text(std::string_view s) noexcept {
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    }
    return true;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

}  // namespace

std::string_view reason_phrase(std::uint16_t code) noexcept {
    switch (code) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}

void response::set_status(std::uint16_t code, std::string_view reason) {
    if (code < 200 || code > 999) throw std::invalid_argument("coil::http::response: status outside 200..999");
    if (!is_field_text(reason)) throw std::invalid_argument("coil::http::response: control octet in reason");
    status_ = code;
    reason_.assign(reason.data(), reason.size());
}

void response::add_header(std::string_view name, std::string_view value) {
    if (name.empty()) throw std::invalid_argument("coil::http::response: empty field name");
    for (const char c : name) {
        if (!is_tchar(static_cast<unsigned char>(c))) {
            throw std::invalid_argument("coil::http::response: field name is not a token");
        }
    }
    if (!is_field_text(value)) throw std::invalid_argument("coil::http::response: control octet in field value");
    for (const std::string_view framing : {"Content-Length", "Transfer-Encoding", "Connection", "Date"}) {
        if (iequals(name, framing)) {
            throw std::invalid_argument("coil::http::response: the server writes " + std::string(framing));
        }
    }
    fields_.append(name.data(), name.size());
    fields_ += ": ";
    fields_.append(value.data(), value.size());
    fields_ += "\r\n";
}

task<result<void>> response::write(std::string_view data) { return conn_->stream_write(data); }

task<result<void>> response::send_file(int fd, std::uint64_t offset, std::uint64_t length) {
    return conn_->send_file(fd, offset, length);
}

task<result<std::string_view>> request::read_body() { return conn_->read_body_piece(); }

}  // namespace coil::http
