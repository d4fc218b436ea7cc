#pragma once
// coil::http::date_cache: the value of the Date response field (RFC 9110 §6.6.1), in IMF-fixdate
// form ("Sun, 06 Nov 1994 08:49:37 GMT", always 29 octets), formatted at most once per second.
//
// Every response carries Date; formatting it per request would cost a gmtime and a format each
// time. The cache keeps the current second's text and re-formats only when the wall clock's second
// changes (CLOCK_REALTIME_COARSE: a vDSO read, no syscall).
// Threading: one cache per thread (current_date() uses a thread_local one, i.e. one per event loop).

#include <cstdint>
#include <ctime>
#include <string_view>

namespace coil::http {

class date_cache {
public:
    static constexpr std::size_t length = 29;

    /// The IMF-fixdate text for the current second. Valid until the next call.
    [[nodiscard]] std::string_view now() noexcept;

    /// Formats `seconds` (since the epoch, UTC) as IMF-fixdate into `out` (29 octets).
    static void format(std::time_t seconds, char* out) noexcept;

private:
    std::time_t second_ = -1;
    char text_[length + 1] = {};
};

/// The calling thread's cache's current Date value.
[[nodiscard]] std::string_view current_date() noexcept;

}  // namespace coil::http
