// protocol.hpp - the two protocols every baseline server speaks, with no I/O of its own
// (http_consume) plus one blocking loop over a connected socket (serve_blocking) for the servers
// that give a connection its own thread of control.
//
// echo: every byte read is sent back, in order.
// http: minimal HTTP/1.1 (RFC 9112): reads to the blank line, honours Content-Length bodies;
//   GET|HEAD /     -> 200 "Hello, World!"
//   any     /echo  -> 200 with the request's body
//   other methods on / -> 405 (Allow: GET, HEAD); other targets -> 404.
//   Keep-alive: HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive".
//   Pipelined requests are answered in order. Refused, and the connection closed after the answer:
//   a header block over max_header_bytes (431), a body over max_body_bytes (413),
//   Transfer-Encoding (501: no chunked bodies here), a malformed request (400; also a bare CR or
//   LF or a NUL in the header block, a bad or conflicting Content-Length, and an HTTP/1.1 request
//   without exactly one Host), another HTTP version (505).
#pragma once

#include <cstddef>
#include <string>

#include "setup.hpp"

namespace baseline {

inline constexpr std::size_t max_header_bytes = 16 * 1024;
inline constexpr std::size_t max_body_bytes = 1024 * 1024;

// Answers every complete request at the front of `in` by appending its response to `out`, and
// removes those requests from `in` (an incomplete one stays for the next call). Returns false
// when the connection must be closed once `out` is sent; `in` is then to be discarded.
bool http_consume(std::string& in, std::string& out);

// Sends all of [data, data + n) on a blocking socket (MSG_NOSIGNAL). False on error.
bool send_all(int fd, const char* data, std::size_t n);

// Before closing a connection that may still hold unread input: half-close and discard what has
// already arrived, so that close() sends a FIN after the response rather than a reset that could
// destroy it in flight (never blocks).
void discard_and_shutdown(int fd);

// Serves one connected blocking socket until the peer closes it, an error, a refused request or
// "Connection: close", or a shutdown() of the socket by another thread or a signal handler.
// Does not close fd.
void serve_blocking(int fd, protocol proto);

}  // namespace baseline
