#pragma once
// coil::http::add_static_files: GET and HEAD routes that serve the regular files under a
// directory, sent with sendfile(2).
//
//     coil::http::add_static_files(routes, "/static/", "/srv/www");   // GET /static/a/b.css
//
// Confinement: the path after the prefix is percent-decoded (a decoded NUL, or a ".." or "."
// segment, gets 404), then opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) relative
// to the root, so neither "..", an absolute path, nor a symlink can reach outside the root
// (symlinks that stay inside it are followed). Where openat2 is unavailable (Linux < 5.6) the
// fallback resolves realpath() and checks that it lies under the root's realpath.
// Not found, outside the root, not a regular file (directories: no listing): 404. EACCES: 403.
// Headers: Content-Type by extension (application/octet-stream otherwise), Last-Modified
// (RFC 9110 §8.8.2), a strong ETag from the inode's size and modification time (§8.8.3),
// Accept-Ranges: bytes.
// Conditionals: If-None-Match (a list, or "*") matching the ETag gives 304; without it,
// If-Modified-Since equal to Last-Modified gives 304 (exact match, as nginx does by default).
// Range (RFC 9110 §14): one byte range (a-b, a-, -n) gives 206 with Content-Range; an
// unsatisfiable one gives 416 with "Content-Range: bytes */size"; several ranges, or an If-Range
// that does not match, give the whole file (200).
// Cost: the file is opened per request (an allocation or two for the path: not the hot path);
// sendfile reads from the page cache, and may block the loop on a disk read for a cold file.
// Throws std::system_error if `root` cannot be opened as a directory.

#include <string>
#include <string_view>

#include "coil/http/router.hpp"

namespace coil::http {

void add_static_files(router& routes, std::string_view url_prefix, const std::string& root);

/// The Content-Type for a file name, by its extension.
[[nodiscard]] std::string_view content_type_for(std::string_view file_name) noexcept;

}  // namespace coil::http
