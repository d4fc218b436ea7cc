#include "coil/http/connection.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <exception>
#include <optional>
#include <stdexcept>

#include <sys/sendfile.h>

#include "coil/http/date_cache.hpp"
#include "coil/http/server.hpp"
#include "coil/runtime/log.hpp"
#include "coil/runtime/with_timeout.hpp"

namespace coil::http::detail {

namespace {

using steady = std::chrono::steady_clock;
using deadline_timer = ::coil::detail::deadline_timer;

// The loop-clock deadline `d` from now, saturating (a huge timeout means never).
template <class Rep, class Period>
::coil::detail::clock::time_point deadline_after(event_loop& loop, std::chrono::duration<Rep, Period> d) {
    return ::coil::detail::saturating_add(loop.now(), ::coil::detail::to_clock_duration(d));
}

std::span<const std::byte> as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

void append_number(std::string& out, std::uint64_t value, int base = 10) {
    char digits[24];
    const auto r = std::to_chars(digits, digits + sizeof digits, value, base);
    out.append(digits, static_cast<std::size_t>(r.ptr - digits));
}

// Whether a response with this status has a body (RFC 9112 §6.3 item 1: never 1xx, 204, 304).
bool status_allows_body(std::uint16_t code) noexcept { return code != 204 && code != 304; }

// Past this many octets of answers in out_, they are sent before the next pipelined request is
// handled, so a batch's output is bounded by this plus one response.
constexpr std::size_t batch_flush_bytes = 256 * 1024;

// The most octets a lingering close reads before giving up on the peer.
constexpr std::size_t linger_max_bytes = 1 << 20;

}  // namespace

connection::connection(server& srv, tcp_stream stream, cancel_token parent)
    : srv_(srv),
      loop_(event_loop::current_or_throw()),
      stream_(std::move(stream)),
      scope_(parent),
      parser_(srv.options_.limits),
      chunks_(srv.options_.limits) {
    const auto& o = srv_.options_;
    // The largest head the parser accepts, plus room for a chunk-size line or a trailer line
    // compacted behind it: the parser refuses (414, 431) before a full buffer could stall it.
    max_cap_ = o.limits.max_request_line + o.limits.max_header_block + o.limits.max_chunk_line +
               o.limits.max_header_block + 64;
    cap_ = std::min(std::max<std::size_t>(o.initial_buffer, 1024), max_cap_);
    in_ = std::make_unique<char[]>(cap_);
    out_.reserve(4096);
    req_.conn_ = this;
    res_.conn_ = this;
    // Register for stop().
    next_ = srv_.connections_;
    if (next_) next_->prev_ = this;
    srv_.connections_ = this;
    ++srv_.connection_count_;
}

connection::~connection() {
    if (prev_) prev_->next_ = next_;
    else srv_.connections_ = next_;
    if (next_) next_->prev_ = prev_;
    --srv_.connection_count_;
}

bool connection::make_room() noexcept {
    if (end_ < cap_) return true;
    if (begin_ > 0) {
        // The parser accepts moved bytes (request_parser's incremental contract).
        std::memmove(in_.get(), in_.get() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
        return true;
    }
    if (cap_ >= max_cap_) return false;
    const std::size_t bigger = std::min(cap_ * 2, max_cap_);
    auto grown = std::make_unique<char[]>(bigger);
    std::memcpy(grown.get(), in_.get(), end_);
    in_ = std::move(grown);
    cap_ = bigger;
    return true;
}

// Before a body that is not all buffered is read: give in_ its largest size and put the head at
// its start, so that body reads never move the head again, and parse the head there anew (its
// views pointed into the old place). Returns false only if parsing it again fails, which a
// deterministic parser never does.
bool connection::grow_for_body(std::size_t head_size) {
    if (cap_ == max_cap_ && begin_ == 0) return true;
    auto grown = std::make_unique<char[]>(max_cap_);
    const std::size_t pending = std::min(end_ - begin_, max_cap_);
    std::memcpy(grown.get(), in_.get() + begin_, pending);
    in_ = std::move(grown);
    cap_ = max_cap_;
    begin_ = 0;
    end_ = pending;
    parser_.reset();
    const parse_result again = parser_.parse({in_.get(), head_size});
    return again.status == parse_status::complete && again.consumed == head_size;
}

void connection::set_target(const request_head& head) noexcept {
    std::string_view path = head.target;
    if (head.form == target_form::absolute) {
        const std::size_t scheme_end = path.find("://");
        path.remove_prefix(scheme_end == std::string_view::npos ? 0 : scheme_end + 3);
        const std::size_t path_start = path.find_first_of("/?");
        path = path_start == std::string_view::npos ? std::string_view{} : path.substr(path_start);
    }
    std::string_view query;
    if (head.form == target_form::origin || head.form == target_form::absolute) {
        const std::size_t q = path.find('?');
        if (q != std::string_view::npos) {
            query = path.substr(q + 1);
            path = path.substr(0, q);
        }
        if (path.empty()) path = "/";
    }
    req_.head_ = &head;
    req_.path_ = path;
    req_.query_ = query;
    req_.body_ = {};
}

void connection::start_body(const request_head& head, std::size_t head_end) noexcept {
    head_end_ = head_end;
    body_pos_ = head_end;
    body_left_ = head.framing == body_framing::content_length ? head.content_length : 0;
    body_done_ = head.framing == body_framing::none ||
                 (head.framing == body_framing::content_length && head.content_length == 0);
    continue_sent_ = false;
    if (head.framing == body_framing::chunked) chunks_.reset();
}

connection::piece connection::take_buffered_piece() noexcept {
    if (body_done_) return {piece_status::done, {}};
    const std::string_view avail(in_.get() + body_pos_, end_ - body_pos_);
    if (req_.head_->framing == body_framing::content_length) {
        if (avail.empty()) return {piece_status::need_more, {}};
        const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(avail.size(), body_left_));
        body_pos_ += take;
        body_left_ -= take;
        if (body_left_ == 0) body_done_ = true;
        return {piece_status::data, avail.substr(0, take)};
    }
    for (std::string_view rest = avail;;) {
        const chunk_result r = chunks_.decode(rest);
        body_pos_ += r.consumed;
        rest.remove_prefix(r.consumed);
        switch (r.status) {
        case chunk_status::data: return {piece_status::data, r.data};
        case chunk_status::trailer_field: continue;  // trailers are not passed on
        case chunk_status::done: body_done_ = true; return {piece_status::done, {}};
        case chunk_status::incomplete: return {piece_status::need_more, {}};
        case chunk_status::error: return {piece_status::error, {}, r.error};
        }
    }
}

// One more read of body octets: compacts what is unread behind the head, sends 100 Continue if
// the client waits for it, and reads with the body timeout.
task<result<void>> connection::fill_body() {
    if (body_pos_ > head_end_) {
        std::memmove(in_.get() + head_end_, in_.get() + body_pos_, end_ - body_pos_);
        end_ = head_end_ + (end_ - body_pos_);
        body_pos_ = head_end_;
    }
    if (end_ == cap_) co_return std::errc::message_size;  // a line longer than the limits allow
    // No 100 once the final response has begun (a streamed head, a file): it would land inside
    // that response's body (RFC 9110 §15.2: 1xx only before the final response).
    if (req_.head_->expect_continue && !continue_sent_ && !res_.streaming_ && !res_.body_sent_) {
        continue_sent_ = true;
        out_ += "HTTP/1.1 100 Continue\r\n\r\n";
        auto sent = co_await flush();
        if (!sent) co_return sent.error();
    }
    std::optional<deadline_timer> timer;
    timer.emplace(loop_, deadline_after(loop_, srv_.options_.body_timeout), scope_);
    auto n = co_await stream_.recv(std::as_writable_bytes(std::span(in_.get() + end_, cap_ - end_)));
    const bool expired = timer->expired();
    timer.reset();
    if (!n) co_return expired ? std::make_error_code(std::errc::timed_out) : n.error();
    end_ += *n;
    co_return result<void>{};
}

task<result<std::string_view>> connection::read_body_piece() {
    for (;;) {
        const piece p = take_buffered_piece();
        switch (p.status) {
        case piece_status::data: co_return p.data;
        case piece_status::done: co_return std::string_view{};
        case piece_status::error: co_return std::errc::bad_message;
        case piece_status::need_more: break;
        }
        auto filled = co_await fill_body();
        if (!filled) co_return filled.error();
    }
}

task<result<void>> connection::read_whole_body() {
    body_.clear();
    for (;;) {
        const piece p = take_buffered_piece();
        if (p.status == piece_status::data) {
            body_.append(p.data);
            continue;
        }
        if (p.status == piece_status::done) break;
        if (p.status == piece_status::error) {
            respond_error(p.error);
            co_return std::errc::bad_message;
        }
        auto filled = co_await fill_body();
        if (!filled) co_return filled.error();
    }
    req_.body_ = body_;
    co_return result<void>{};
}

// Sends all of out_ with the send timeout between sends. The hot path in run() has the same
// loop inline (a call to this coroutine would allocate its frame).
task<result<void>> connection::flush() {
    std::size_t sent = 0;
    while (sent < out_.size()) {
        std::optional<deadline_timer> timer;
        timer.emplace(loop_, deadline_after(loop_, srv_.options_.send_timeout), scope_);
        auto n = co_await stream_.send(as_bytes(std::string_view(out_).substr(sent)));
        const bool expired = timer->expired();
        timer.reset();
        if (!n) co_return expired ? std::make_error_code(std::errc::timed_out) : n.error();
        sent += *n;
    }
    out_.clear();
    co_return result<void>{};
}

void connection::write_head(std::size_t content_length, bool chunked) {
    const std::uint16_t code = res_.status_;
    out_ += "HTTP/1.1 ";
    append_number(out_, code);
    out_ += ' ';
    out_ += res_.reason_.empty() ? reason_phrase(code) : std::string_view(res_.reason_);
    out_ += "\r\nDate: ";
    out_ += current_date();
    out_ += "\r\n";
    out_ += res_.fields_;
    // 204 and 304 have no body (RFC 9112 §6.3 item 1): no framing field either, whatever the
    // handler chose (RFC 9110 §8.6, RFC 9112 §6.1).
    if (status_allows_body(code) && chunked) {
        out_ += "Transfer-Encoding: chunked\r\n";
    } else if (status_allows_body(code)) {
        out_ += "Content-Length: ";
        append_number(out_, content_length);
        out_ += "\r\n";
    }
    if (close_after_) {
        out_ += "Connection: close\r\n";
    } else if (http10_) {
        out_ += "Connection: keep-alive\r\n";
    }
    out_ += "\r\n";
}

void connection::finish_response() {
    // A stop() that came while the handler ran closes this connection after its response too.
    close_after_ = close_after_ || res_.close_ || srv_.stopping_;
    if (res_.body_sent_) return;  // send_file() wrote head and body
    if (res_.streaming_ && !http10_) {
        if (!head_only_ && status_allows_body(res_.status_)) out_ += "0\r\n\r\n";
        return;
    }
    write_head(res_.body_.size(), false);
    if (!head_only_ && status_allows_body(res_.status_)) out_ += res_.body_;
}

void connection::respond_status(std::uint16_t code, bool close) {
    res_.reset();
    res_.status_ = code;
    res_.body_ = reason_phrase(code);
    res_.body_ += '\n';
    close_after_ = close_after_ || close;
}

void connection::respond_error(parse_error e) {
    // Always close: closing is safe for every parse error (RFC 9112 §9.6), and a refused
    // request's body, if any, is not read.
    const error_status s = status_of(e);
    res_.reset();
    res_.status_ = s.code;
    res_.reason_ = s.reason;
    res_.body_ = s.reason;
    res_.body_ += '\n';
    res_.add_header("Content-Type", "text/plain");
    close_after_ = true;
    refused_ = true;
    head_only_ = false;
    http10_ = false;
    finish_response();
}

void connection::respond_lookup_failure(bool path_known) {
    respond_status(path_known ? 405 : 404, false);
    res_.add_header("Content-Type", "text/plain");
    if (path_known) {
        res_.fields_ += "Allow: ";
        srv_.routes_.allowed_methods(req_.path_, res_.fields_);
        res_.fields_ += "\r\n";
    }
}

task<result<void>> connection::stream_write(std::string_view data) {
    if (!res_.streaming_) {
        res_.streaming_ = true;
        if (!http10_) write_head(0, true);
    }
    if (http10_) {  // no chunked coding in HTTP/1.0: collect, send with Content-Length at the end
        res_.body_.append(data);
        co_return result<void>{};
    }
    // A 204 or 304 (or HEAD) has no body on the wire: octets written would be read as the next
    // response (a response-side desync).
    if (!head_only_ && status_allows_body(res_.status_) && !data.empty()) {
        append_number(out_, data.size(), 16);
        out_ += "\r\n";
        out_ += data;
        out_ += "\r\n";
    }
    co_return co_await flush();
}

// A connection that once sent a large response keeps no large buffer while it idles: over
// 256 KiB, the buffers go back to their first size (a cold path; small ones are kept so that
// a warm connection allocates nothing).
void connection::release_large_buffers() {
    constexpr std::size_t keep = 256 * 1024;
    if (out_.capacity() > keep) {
        std::string().swap(out_);
        out_.reserve(4096);
    }
    if (res_.body_.capacity() > keep) std::string().swap(res_.body_);
    if (body_.capacity() > keep) std::string().swap(body_);
}

// sendfile(2) on the non-blocking socket, waiting for writability when the socket buffer is
// full (runtime/io.hpp has no sendfile operation; wait_writable works on both backends).
task<result<void>> connection::send_file(int fd, std::uint64_t offset, std::uint64_t length) {
    if (res_.streaming_ || res_.body_sent_) {
        throw std::logic_error("coil::http::response::send_file: the body was already sent");
    }
    res_.body_sent_ = true;
    close_after_ = close_after_ || res_.close_ || srv_.stopping_;
    write_head(static_cast<std::size_t>(length), false);
    // HEAD, 204, 304: the head only (it leaves with the batch); a body would desync the client.
    if (head_only_ || !status_allows_body(res_.status_)) co_return result<void>{};
    auto flushed = co_await flush();
    if (!flushed) {
        res_.failed_ = true;
        co_return flushed.error();
    }
    const int sock = stream_.native_handle();
    auto position = static_cast<off_t>(offset);
    std::uint64_t remaining = length;
    while (remaining > 0) {
        const ssize_t n = ::sendfile(sock, fd, &position, static_cast<std::size_t>(std::min<std::uint64_t>(remaining, 1u << 30)));
        if (n > 0) {
            remaining -= static_cast<std::uint64_t>(n);
            continue;
        }
        if (n == 0) {  // the file is shorter than announced
            res_.failed_ = true;
            co_return std::errc::io_error;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN) {
            res_.failed_ = true;
            co_return std::error_code(errno, std::system_category());
        }
        std::optional<deadline_timer> timer;
        timer.emplace(loop_, deadline_after(loop_, srv_.options_.send_timeout), scope_);
        auto writable = co_await coil::wait_writable(sock);
        const bool expired = timer->expired();
        timer.reset();
        if (!writable) {
            res_.failed_ = true;
            co_return expired ? std::make_error_code(std::errc::timed_out) : writable.error();
        }
    }
    co_return result<void>{};
}

task<void> connection::linger() {
    // Lingering close: the peer may still be sending (a refused body, later pipelined requests);
    // closing with unread input would send a reset that can destroy the response in the peer's
    // receive queue. Shut the write side, then discard input until EOF, for a bounded time.
    (void)stream_.shutdown(shutdown_how::write);
    const auto deadline = steady::now() + srv_.options_.linger_timeout;
    std::size_t discarded = 0;
    while (discarded < linger_max_bytes) {
        const auto left = deadline - steady::now();
        if (left <= steady::duration::zero()) break;
        std::optional<deadline_timer> timer;
        timer.emplace(loop_, deadline_after(loop_, left), scope_);
        auto n = co_await stream_.recv(std::as_writable_bytes(std::span(in_.get(), cap_)));
        timer.reset();
        if (!n) break;
        discarded += *n;
    }
}

task<void> connection::run() {
    const server_options& o = srv_.options_;
    bool first = true;
    bool close = false;
    bool peer_done = false;  // the peer's side ended (EOF, reset, timeout): no lingering close
    while (!close) {
        // ---- Read.
        if (begin_ == end_) begin_ = end_ = 0;
        if (srv_.stopping_ && begin_ == end_) break;  // graceful stop: an idle connection closes
        steady::duration limit;
        if (begin_ == end_) {
            idle_ = true;
            limit = first ? o.header_timeout : o.keepalive_timeout;
        } else {
            limit = header_deadline_ - steady::now();
            if (limit <= steady::duration::zero()) {
                peer_done = true;
                break;  // slowloris: the whole-head deadline has passed
            }
        }
        if (!make_room()) {  // a head as large as the buffer's largest size: the parser's limits
            respond_error(parse_error::header_block_too_large);
            close = true;
        } else {
            std::optional<deadline_timer> timer;
            timer.emplace(loop_, deadline_after(loop_, limit), scope_);
            auto n = co_await stream_.recv(std::as_writable_bytes(std::span(in_.get() + end_, cap_ - end_)));
            timer.reset();
            idle_ = false;
            if (!n) {
                peer_done = true;
                break;  // end of stream, reset, timeout or stop: nothing is owed
            }
            if (begin_ == end_) header_deadline_ = steady::now() + o.header_timeout;  // a new head
            end_ += *n;
            first = false;
        }

        // ---- Answer every complete request that is in the buffer.
        while (!close && begin_ < end_) {
            // Large answers leave before the next pipelined request is handled: a batch of small
            // requests for large responses must not pile up in out_ without bound (memory DoS).
            // A cold path (a flush() frame), taken only past batch_flush_bytes.
            if (out_.size() >= batch_flush_bytes) {
                auto flushed = co_await flush();
                if (!flushed) {
                    peer_done = true;
                    close = true;
                    break;
                }
            }
            const parse_result parsed = parser_.parse(input());
            if (parsed.status == parse_status::incomplete) break;
            if (parsed.status == parse_status::error) {
                respond_error(parsed.error);
                close = true;
                break;
            }
            std::size_t head_size = parsed.consumed;
            const request_head* head = &parser_.head();
            const std::size_t head_end = begin_ + head_size;
            set_target(*head);
            const router::lookup match = srv_.routes_.find(head->method, req_.path_);
            http10_ = head->version_minor == 0;
            head_only_ = head->method == "HEAD";
            close_after_ = !head->keep_alive || srv_.stopping_ || served_ + 1 >= o.keepalive_requests;
            start_body(*head, head_end);
            res_.reset();

            const bool body_buffered =
                body_done_ || (head->framing == body_framing::content_length &&
                               end_ - head_end >= head->content_length);
            bool body_unread = false;
            if (match.found == nullptr) {
                respond_lookup_failure(match.path_known);
                if (!body_buffered) close_after_ = true;  // its body is not read: framing is lost
                else body_pos_ = head_end + static_cast<std::size_t>(head->content_length);
                body_done_ = true;
            } else {
                const route& r = *match.found;
                if (!body_buffered) {
                    // A body still to come: give in_ its largest size first (the head may move).
                    if (!grow_for_body(head_size)) {
                        respond_error(parse_error::bad_request_line);
                        close = true;
                        break;
                    }
                    head = &parser_.head();
                    set_target(*head);
                    start_body(*head, head_size);
                }
                if (r.body == body_mode::whole && !body_done_) {
                    if (body_buffered) {
                        req_.body_ = {in_.get() + head_end_, static_cast<std::size_t>(head->content_length)};
                        body_pos_ = head_end_ + req_.body_.size();
                        body_done_ = true;
                    } else {
                        // Earlier pipelined answers leave before the wait for this body.
                        if (!out_.empty()) {
                            auto sent = co_await flush();
                            if (!sent) {
                                peer_done = true;
                                close = true;
                                break;
                            }
                        }
                        auto got = co_await read_whole_body();
                        if (!got) {
                            if (got.error() != std::errc::bad_message) {
                                peer_done = true;
                                close = true;
                                out_.clear();  // nothing more can be sent on a cancelled scope
                                break;
                            }
                            close = true;  // the error response was written by read_whole_body
                            break;
                        }
                    }
                }
                if (!r.sync && !out_.empty()) {
                    // An async handler may take its time: earlier answers leave first.
                    auto sent = co_await flush();
                    if (!sent) {
                        peer_done = true;
                        close = true;
                        break;
                    }
                }
                try {
                    if (r.sync) {
                        r.sync(req_, res_);
                    } else {
                        co_await r.async(req_, res_);
                    }
                } catch (const std::exception& e) {
                    log(log_level::error, std::string("coil::http: handler threw: ") + e.what());
                    if (res_.streaming_ || res_.body_sent_) {
                        close = true;  // the head is out: the body cannot be completed
                        break;
                    }
                    respond_status(500, true);
                } catch (...) {
                    log(log_level::error, "coil::http: handler threw a non-exception");
                    if (res_.streaming_ || res_.body_sent_) {
                        close = true;
                        break;
                    }
                    respond_status(500, true);
                }
                body_unread = !body_done_;
                // The rest of a body the handler left unread is not read: the framing is lost, so
                // the connection closes, and the response must say so (decided before its head
                // is written below).
                if (body_unread) close_after_ = true;
                if (res_.failed_) {  // send_file() broke off mid-body: the framing is lost
                    peer_done = true;
                    close = true;
                    break;
                }
            }
            finish_response();
            ++served_;
            close = close_after_;
            begin_ = body_pos_;
            // The next request's head began in this read: its whole-head deadline starts now.
            if (begin_ < end_ && !close) header_deadline_ = steady::now() + o.header_timeout;
        }

        // ---- Send the batch (inline: a flush() call would allocate its frame per batch).
        std::size_t sent = 0;
        bool send_failed = false;
        while (sent < out_.size()) {
            std::optional<deadline_timer> timer;
            timer.emplace(loop_, deadline_after(loop_, o.send_timeout), scope_);
            auto n = co_await stream_.send(as_bytes(std::string_view(out_).substr(sent)));
            timer.reset();
            if (!n) {
                send_failed = true;
                break;
            }
            sent += *n;
        }
        out_.clear();
        release_large_buffers();
        if (send_failed) {
            peer_done = true;
            break;
        }
    }
    // Linger only where the peer may still be sending (nginx's heuristic): unprocessed input, a
    // body not read to its end, or a refused request. A connection closed after a complete
    // request (Connection: close, the keep-alive limit) closes at once: a lingering close costs
    // a shutdown, a wait for the peer's FIN and a recv per connection.
    const bool input_may_follow = refused_ || begin_ < end_ || !body_done_;
    if (!peer_done && input_may_follow && !scope_.cancel_requested()) co_await linger();
    stream_.close();
}

}  // namespace coil::http::detail
