#pragma once
// coil::buffered_reader: delimited and exact reads over any stream that has recv(span).
//
//     coil::buffered_reader reader(stream);
//     auto line = co_await reader.read_line(8192);      // result<std::string_view>, no LF / CRLF
//     if (!line) { /* errc::eof, errc::line_too_long, or the stream's error */ }
//     auto header = co_await reader.read_exact(16);     // result<std::span<const std::byte>>
//
// Results are views into the reader's buffer: valid until the next read_* / recv / consume call
// or the reader's destruction; the bytes they show count as consumed.
// - read_until(delim, max): the bytes up to and including the first `delim`. `max` bounds the
//   whole line, delimiter included: with `max` bytes buffered and no delimiter among them the
//   result is coil::errc::line_too_long (nothing consumed; the bytes stay in buffered(), so the
//   caller may consume(max) to skip the line's first max bytes and read on, or give up).
//   buffered() may hold more than max bytes, the following lines included: consume(max), not
//   consume(buffered().size()), is what is known to hold no delimiter.
// - read_line(max): read_until('\n', max) without the LF, and without a CR just before it
//   (LF or CRLF endings; a lone CR is data).
// - read_exact(n): exactly n bytes (the buffer grows to n if needed).
// - recv(buf): what is buffered first, else one recv on the stream; so a buffered_reader is itself
//   a stream for another reader or for code written against recv.
// End of stream: when the stream ends (errc::eof) before a line or n bytes are complete, the
// result is errc::eof and the partial bytes stay in buffered() (not consumed). Other stream errors
// and operation_canceled are returned the same way: nothing received is lost.
// Memory: the buffer starts at `initial_capacity` (allocated on first read) and grows by doubling
// as far as a read needs (at most max for a line, n for read_exact); it never shrinks.
// Cancellation: the reads honour the awaiting task's cancel token through the stream's recv.
// Lifetime: the stream must outlive the reader. Not thread-safe; one read at a time (a second read
// while one is suspended is a programmer error, asserted in debug builds).

#include <algorithm>
#include <cassert>
#include <concepts>
#include <cstddef>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "coil/runtime/detail/awaitable_traits.hpp"
#include "coil/runtime/errc.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"

namespace coil {

/// A stream coil can read from: `co_await s.recv(buf)` yields result<std::size_t> (bytes > 0,
/// errc::eof at end of stream, or an error). tcp_stream, unix_stream and buffered_reader are such
/// streams; udp_socket is not (its recv yields a datagram_info: a datagram is no stream).
template <class S>
concept readable_stream = requires(S& s, std::span<std::byte> buf) {
    s.recv(buf);
    requires std::same_as<std::remove_cvref_t<detail::await_result_t<decltype(s.recv(buf))>>,
                          result<std::size_t>>;
};

template <readable_stream Stream>
class buffered_reader {
public:
    static constexpr std::size_t default_capacity = 4096;

    explicit buffered_reader(Stream& stream, std::size_t initial_capacity = default_capacity) noexcept
        : stream_(&stream), initial_capacity_(initial_capacity > 0 ? initial_capacity : 1) {}
    buffered_reader(const buffered_reader&) = delete;
    buffered_reader& operator=(const buffered_reader&) = delete;

    /// Bytes received and not yet consumed (after the last result's bytes were dropped).
    [[nodiscard]] std::span<const std::byte> buffered() noexcept {
        drop_returned();
        return {buf_.data() + begin_, end_ - begin_};
    }
    /// Drops the first n buffered bytes (n <= buffered().size()).
    void consume(std::size_t n) noexcept {
        drop_returned();
        assert(n <= end_ - begin_);
        begin_ += n;
    }
    [[nodiscard]] Stream& stream() noexcept { return *stream_; }

    /// The bytes up to and including the first `delim`; see the top of this file.
    task<result<std::span<const std::byte>>> read_until(std::byte delim, std::size_t max) {
        [[maybe_unused]] busy_guard busy(*this);
        drop_returned();
        std::size_t scanned = 0;  // bytes after begin_ known not to hold `delim`
        for (;;) {
            const std::size_t have = end_ - begin_;
            const std::size_t limit = std::min(have, max);
            if (scanned < limit) {
                const std::byte* from = buf_.data() + begin_;
                const void* hit = std::memchr(from + scanned, static_cast<int>(delim), limit - scanned);
                if (hit != nullptr) {
                    const auto len = static_cast<std::size_t>(static_cast<const std::byte*>(hit) - from) + 1;
                    co_return take(len);
                }
                scanned = limit;
            }
            if (have >= max) co_return errc::line_too_long;
            auto got = co_await fill(max);
            if (!got) co_return got.error();
        }
    }

    /// One line without its LF or CRLF; `max` bounds the line with its ending.
    task<result<std::string_view>> read_line(std::size_t max) {
        auto line = co_await read_until(std::byte{'\n'}, max);
        if (!line) co_return line.error();
        std::size_t n = line->size() - 1;
        if (n > 0 && (*line)[n - 1] == std::byte{'\r'}) --n;
        co_return std::string_view(reinterpret_cast<const char*>(line->data()), n);
    }

    /// Exactly n bytes.
    task<result<std::span<const std::byte>>> read_exact(std::size_t n) {
        [[maybe_unused]] busy_guard busy(*this);
        drop_returned();
        while (end_ - begin_ < n) {
            auto got = co_await fill(n);
            if (!got) co_return got.error();
        }
        co_return take(n);
    }

    /// Up to buf.size() bytes: the buffered ones if any, else one recv on the stream.
    task<result<std::size_t>> recv(std::span<std::byte> buf) {
        drop_returned();
        if (begin_ == end_) co_return co_await stream_->recv(buf);
        const std::size_t n = std::min(buf.size(), end_ - begin_);
        std::memcpy(buf.data(), buf_.data() + begin_, n);
        consume(n);
        co_return n;
    }

private:
    struct busy_guard {
        explicit busy_guard(buffered_reader& r) noexcept : reader(r) {
            assert(!reader.busy_ && "buffered_reader: two reads at once");
            reader.busy_ = true;
        }
        busy_guard(const busy_guard&) = delete;
        busy_guard& operator=(const busy_guard&) = delete;
        ~busy_guard() { reader.busy_ = false; }
        buffered_reader& reader;
    };

    std::span<const std::byte> take(std::size_t len) noexcept {
        returned_ = len;
        return {buf_.data() + begin_, len};
    }
    void drop_returned() noexcept {
        begin_ += returned_;
        returned_ = 0;
        if (begin_ == end_) begin_ = end_ = 0;
    }

    // One recv into the free space, making room for a read that needs `want` bytes in all:
    // buffered bytes move to the front, and the buffer doubles (up to `want`) when full.
    task<result<std::size_t>> fill(std::size_t want) {
        if (buf_.empty()) buf_.resize(initial_capacity_);
        if (end_ == buf_.size() && begin_ > 0) {
            std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        if (end_ == buf_.size()) buf_.resize(std::max(end_ + 1, std::min(2 * buf_.size(), want)));
        auto got = co_await stream_->recv(std::span<std::byte>(buf_.data() + end_, buf_.size() - end_));
        if (got) end_ += *got;
        co_return got;
    }

    Stream* stream_;
    std::size_t initial_capacity_;
    std::vector<std::byte> buf_;
    std::size_t begin_ = 0;     // first unconsumed byte
    std::size_t end_ = 0;       // one past the last received byte
    std::size_t returned_ = 0;  // bytes of the last result, consumed at the next call
    bool busy_ = false;
};

}  // namespace coil
