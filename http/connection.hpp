#pragma once
// coil::http::detail::connection: one server connection's state and coroutine (private to http/;
// not installed). See server.hpp for the behaviour; this file says how.
//
// Buffers: `in_` holds received octets; [begin_, end_) is not yet processed. Every complete
// request in it is answered into `out_` before anything is sent, so a pipelined batch leaves in
// one send. A head's views point into `in_`, so `in_` never moves while a request is being
// handled: before a body that is not all buffered is read, `in_` is grown to its largest size
// once (the head parsed again there); body octets are then compacted behind the head.
// Timeouts: a coil::detail::deadline_timer (with_timeout's building block) on the connection's
// cancel scope around each recv and send. It allocates nothing, unlike a with_timeout task per
// operation, and a timeout ends the connection anyway, so a one-shot scope is enough.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "coil/http/parser/chunked_decoder.hpp"
#include "coil/http/parser/request_parser.hpp"
#include "coil/http/request.hpp"
#include "coil/http/response.hpp"
#include "coil/net/tcp_stream.hpp"
#include "coil/runtime/cancel.hpp"
#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/task.hpp"

namespace coil::http {
class server;
struct route;
}  // namespace coil::http

namespace coil::http::detail {

class connection {
public:
    connection(server& srv, tcp_stream stream, cancel_token parent);
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    /// Serves requests until the connection ends. Run it under scope().token().
    task<void> run();

    [[nodiscard]] cancel_source& scope() noexcept { return scope_; }
    /// Waiting for a request with nothing of it received (graceful stop closes these at once).
    [[nodiscard]] bool idle() const noexcept { return idle_; }

    // For request::read_body and response::write.
    task<result<std::string_view>> read_body_piece();
    task<result<void>> stream_write(std::string_view data);
    task<result<void>> send_file(int fd, std::uint64_t offset, std::uint64_t length);

    connection* prev_ = nullptr;  // the server's list
    connection* next_ = nullptr;

private:
    enum class piece_status : std::uint8_t { data, done, need_more, error };
    struct piece {
        piece_status status;
        std::string_view data;
        parse_error error = parse_error::none;
    };

    [[nodiscard]] std::string_view input() const noexcept { return {in_.get() + begin_, end_ - begin_}; }
    bool make_room() noexcept;
    bool grow_for_body(std::size_t head_size);
    void set_target(const request_head& head) noexcept;
    void start_body(const request_head& head, std::size_t head_end) noexcept;
    piece take_buffered_piece() noexcept;
    task<result<void>> fill_body();
    task<result<void>> read_whole_body();
    task<result<void>> flush();
    void respond_status(std::uint16_t code, bool close);
    void respond_error(parse_error e);
    void respond_lookup_failure(bool path_known);
    void finish_response();
    void write_head(std::size_t content_length, bool chunked);
    task<void> linger();
    void release_large_buffers();

    server& srv_;
    event_loop& loop_;
    tcp_stream stream_;
    cancel_source scope_;

    std::unique_ptr<char[]> in_;
    std::size_t cap_ = 0;
    std::size_t max_cap_ = 0;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    std::string out_;

    request_parser parser_;
    chunked_decoder chunks_;
    request req_;
    response res_;

    // The request in progress.
    bool head_only_ = false;      // HEAD: no body octets
    bool close_after_ = false;    // "Connection: close" on this response
    bool http10_ = false;
    std::size_t head_end_ = 0;    // offset in in_ where the body starts
    std::size_t body_pos_ = 0;    // offset in in_ of the next unread body octet
    std::uint64_t body_left_ = 0; // content-length octets not yet taken
    bool body_done_ = true;
    bool refused_ = false;        // a parse error was answered: its input may still be arriving
    bool continue_sent_ = false;
    std::string body_;            // whole bodies that were not all in in_, decoded chunked bodies

    bool idle_ = false;
    std::chrono::steady_clock::time_point header_deadline_{};  // for the head now in in_
    std::size_t served_ = 0;
};

}  // namespace coil::http::detail
