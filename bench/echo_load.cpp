// echo_load: an echo load generator written on coil itself.
//
// Opens N TCP connections to an echo server and keeps K messages of B bytes in flight on each
// (K = 1: ping-pong; K > 1: pipelined, one new message per complete echo). Every echoed byte is
// checked, each message's round trip goes into a log-linear histogram, and at the end it reports
// throughput, latency percentiles, errors by kind and, with --stat-pid, the server's CPU time over
// the measured window and its RSS. One thread, one coil event loop (io_uring or epoll).
//
// Run it:
//     build/release/bench/baselines/baseline_epoll --port 0   # prints "listening on 127.0.0.1:PORT"
//     build/release/bench/echo_load --port PORT --connections 100 --duration 3 --json
// bench/echo_bench.py drives it over a ladder of points; `echo_load --help` lists every flag.
//
// Timeline: connect (at most --connect-concurrency attempts in flight) -> warm-up (traffic, not
// counted) -> measured window -> stop (cancel every task, await them, close). A hard deadline of
// warmup + duration + 10 s from the start ends the run early, reporting what was measured.
//
// GCC 12.2 (Debian 12) miscompiles a co_await inside an if/while/for condition (the frame comes out
// too small and the coroutine overwrites its heap neighbour; GCC PR 106188, fixed in 12.3), so
// every co_await here is a statement of its own, its result kept in a local.
//
// Byte pattern: one shared, periodic pseudo-random "tape". Connection c's byte stream is the tape
// read from an offset derived from c, so message n of connection c is the tape at
// start(c) + n * size: a pattern derived from (connection, sequence number). Sends go straight
// from the tape (several consecutive messages are one contiguous range, so credit is sent in one
// call) and every receive is checked with one memcmp against it. The per-message path allocates
// nothing: per connection there is one receive buffer and a ring of send timestamps.
//
// Each connection runs a writer (sends while it has credit) and a reader (verifies, records, returns
// credit); the reader yields the loop every few receives, because on epoll a receive that finds
// data completes without suspending and one busy connection would starve the rest.

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <coroutine>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "net/ip_endpoint.hpp"
#include "net/tcp_connect.hpp"
#include "net/tcp_stream.hpp"
#include "runtime/runtime.hpp"

namespace {

using nanos = std::int64_t;  // monotonic time and durations, in nanoseconds

constexpr int exit_ok = 0;
constexpr int exit_run_failed = 1;
constexpr int exit_usage = 2;
constexpr int exit_stuck = 3;
constexpr int exit_interrupted = 130;

constexpr std::size_t max_message_size = std::size_t{8} << 20;
constexpr std::size_t max_depth = 4096;
constexpr std::size_t max_connections = 1'000'000;
constexpr std::size_t largest_send = 64 * 1024;          // bytes handed to one send, at most
constexpr std::size_t largest_receive_buffer = 64 * 1024;
constexpr std::size_t smallest_receive_buffer = 4 * 1024;
constexpr std::size_t receive_memory_budget = std::size_t{256} << 20;  // all connections together
constexpr std::size_t spare_fds = 64;
constexpr std::uint32_t receives_per_yield = 16;  // a connection's receives between two yields
constexpr nanos hard_deadline_slack = 10'000'000'000;
constexpr nanos stuck_grace = 5'000'000'000;  // after the hard deadline, before giving up hard

// ------------------------------------------------------------------------------------------------
// Time
// ------------------------------------------------------------------------------------------------

nanos now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(coil::clock::now().time_since_epoch())
        .count();
}

coil::clock::time_point to_time_point(nanos t) noexcept {
    return coil::clock::time_point(
        std::chrono::duration_cast<coil::clock::duration>(std::chrono::nanoseconds(t)));
}

nanos seconds_to_ns(double seconds) noexcept { return static_cast<nanos>(std::llround(seconds * 1e9)); }

double ns_to_seconds(nanos t) noexcept { return static_cast<double>(t) / 1e9; }

// ------------------------------------------------------------------------------------------------
// Command line
// ------------------------------------------------------------------------------------------------

struct config {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::size_t connections = 100;
    std::size_t size = 64;
    std::size_t depth = 1;
    double duration_s = 5.0;
    double warmup_s = 1.0;
    double timeout_s = 5.0;
    double connect_timeout_s = 5.0;
    std::size_t connect_concurrency = 256;
    std::optional<coil::backend_kind> backend;
    std::optional<pid_t> stat_pid;
    bool json = false;
    bool quiet = false;
};

constexpr std::string_view usage_text = R"(usage: echo_load --port N [options]

Echo load generator written on coil. Opens N connections to an echo server, keeps K messages
in flight on each, verifies every echoed byte, and reports throughput, round-trip latency
percentiles, errors by kind and (with --stat-pid) the server's CPU time and RSS.

  --host ADDR               server address, an IPv4 or IPv6 literal (default 127.0.0.1)
  --port N                  server port (required)
  --connections N           concurrent connections (default 100)
  --size B                  message size in bytes (default 64)
  --depth K                 messages in flight per connection: 1 = ping-pong, K > 1 = pipelined
                            (default 1)
  --duration S              measured seconds; decimals allowed (default 5)
  --warmup S                seconds of traffic before the measurement, not counted (default 1)
  --backend NAME            io_uring or epoll (default: coil's probe; COIL_BACKEND overrides)
  --json                    print one JSON object on stdout; the summary goes to stderr
  --stat-pid PID            report that process's CPU time over the measured window
                            (server_cpu_s) and its RSS at the end (server_rss_kb)
  --quiet                   no per-second progress lines on stderr
  --timeout S               a message not echoed within S seconds is a timeout error and
                            closes its connection (default 5)
  --connect-timeout S       give up on a connection attempt after S seconds (default 5)
  --connect-concurrency N   connection attempts in flight at once (default 256)
  --help                    print this help and exit

Errors by kind: connect, reset (reset, broken pipe or end of stream from the server), mismatch
(an echoed byte differs), timeout, other. A failed connection is closed, not retried.
Exit status: 0 ok; 1 the run failed (no connection, no message echoed in the window, every
connection failed, or the hard deadline of warmup + duration + 10 s passed); 2 bad command
line; 3 still running 5 s after the hard deadline; 130 interrupted (SIGINT/SIGTERM).
)";

struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct help_requested {};

template <class T>
T parse_integer(std::string_view flag, std::string_view text, T min, T max) {
    T value{};
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, value);
    if (error != std::errc{} || stop != end || value < min || value > max) {
        throw usage_error(std::string(flag) + ": expected an integer from " + std::to_string(min) +
                          " to " + std::to_string(max) + ", got '" + std::string(text) + "'");
    }
    return value;
}

double parse_seconds(std::string_view flag, std::string_view text, bool zero_allowed) {
    double value = 0;
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, value);
    const bool in_range = std::isfinite(value) && (zero_allowed ? value >= 0 : value > 0) &&
                          value <= 86400.0;
    if (error != std::errc{} || stop != end || !in_range) {
        throw usage_error(std::string(flag) + ": expected seconds " +
                          (zero_allowed ? ">= 0" : "> 0") + " (at most 86400), got '" +
                          std::string(text) + "'");
    }
    return value;
}

coil::backend_kind parse_backend(std::string_view text) {
    if (auto kind = coil::parse_backend_kind(text)) return *kind;
    throw usage_error("--backend: expected io_uring or epoll, got '" + std::string(text) + "'");
}

// Applies one flag that takes a value (one of valued_flags).
void apply_valued_flag(config& cfg, std::string_view name, std::string_view value) {
    if (name == "--host") {
        cfg.host = std::string(value);
    } else if (name == "--port") {
        cfg.port = parse_integer<std::uint16_t>(name, value, 1, 65535);
    } else if (name == "--connections") {
        cfg.connections = parse_integer<std::size_t>(name, value, 1, max_connections);
    } else if (name == "--size") {
        cfg.size = parse_integer<std::size_t>(name, value, 1, max_message_size);
    } else if (name == "--depth") {
        cfg.depth = parse_integer<std::size_t>(name, value, 1, max_depth);
    } else if (name == "--duration") {
        cfg.duration_s = parse_seconds(name, value, false);
    } else if (name == "--warmup") {
        cfg.warmup_s = parse_seconds(name, value, true);
    } else if (name == "--timeout") {
        cfg.timeout_s = parse_seconds(name, value, false);
    } else if (name == "--connect-timeout") {
        cfg.connect_timeout_s = parse_seconds(name, value, false);
    } else if (name == "--connect-concurrency") {
        cfg.connect_concurrency = parse_integer<std::size_t>(name, value, 1, 65536);
    } else if (name == "--backend") {
        cfg.backend = parse_backend(value);
    } else if (name == "--stat-pid") {
        cfg.stat_pid = parse_integer<pid_t>(name, value, 1, 1 << 30);
    }
}

constexpr std::array<std::string_view, 12> valued_flags{
    "--host", "--port", "--connections", "--size", "--depth", "--duration", "--warmup",
    "--timeout", "--connect-timeout", "--connect-concurrency", "--backend", "--stat-pid"};
constexpr std::array<std::string_view, 4> switches{"--help", "-h", "--json", "--quiet"};

bool is_one_of(std::string_view name, std::span<const std::string_view> names) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

void apply_switch(config& cfg, std::string_view name) {
    if (name == "--help" || name == "-h") throw help_requested{};
    if (name == "--json") cfg.json = true;
    if (name == "--quiet") cfg.quiet = true;
}

// Accepts "--flag value" and "--flag=value". Throws usage_error or help_requested.
config parse_command_line(int argc, char** argv) {
    config cfg;
    bool port_given = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        std::string_view name = arg;
        std::optional<std::string_view> value;
        if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
            name = arg.substr(0, eq);
            value = arg.substr(eq + 1);
        }
        if (is_one_of(name, switches)) {
            if (value) throw usage_error(std::string(name) + " takes no value");
            apply_switch(cfg, name);
            continue;
        }
        if (!is_one_of(name, valued_flags)) throw usage_error("unknown flag '" + std::string(arg) + "'");
        if (!value) {
            if (i + 1 >= argc) throw usage_error(std::string(name) + " needs a value");
            value = argv[++i];
        }
        apply_valued_flag(cfg, name, *value);
        port_given = port_given || name == "--port";
    }
    if (!port_given) throw usage_error("--port is required");
    return cfg;
}

// "[::1]" is accepted as well as "::1".
coil::ip_endpoint parse_endpoint(const config& cfg) {
    std::string_view host = cfg.host;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    auto endpoint = coil::ip_endpoint::from_address(host, cfg.port);
    if (!endpoint) throw usage_error("--host: not an IPv4 or IPv6 address literal: '" + cfg.host + "'");
    return *endpoint;
}

// ------------------------------------------------------------------------------------------------
// Setup checks
// ------------------------------------------------------------------------------------------------

// Raises the soft RLIMIT_NOFILE to the hard limit; returns an error message if `connections`
// (plus spare_fds) still do not fit.
std::optional<std::string> raise_fd_limit(std::size_t connections) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
    if (limit.rlim_cur < limit.rlim_max) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    }
    const rlim_t needed = connections + spare_fds;
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
        return "--connections " + std::to_string(connections) + " needs " + std::to_string(needed) +
               " file descriptors, but RLIMIT_NOFILE is " + std::to_string(limit.rlim_cur) +
               " (hard limit " + std::to_string(limit.rlim_max) +
               "); raise the hard limit (ulimit -Hn, limits.conf) or use fewer connections";
    }
    return std::nullopt;
}

// ------------------------------------------------------------------------------------------------
// The server's CPU time and memory, from /proc
// ------------------------------------------------------------------------------------------------

std::optional<std::string> read_small_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::string text;
    std::array<char, 4096> chunk{};
    ssize_t n = 0;
    while ((n = ::read(fd, chunk.data(), chunk.size())) > 0) text.append(chunk.data(), static_cast<std::size_t>(n));
    ::close(fd);
    if (n < 0) return std::nullopt;
    return text;
}

template <class T>
std::optional<T> leading_number(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    T value{};
    const auto [stop, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || stop == text.data()) return std::nullopt;
    return value;
}

// First field of schedstat: time spent on a CPU, in nanoseconds.
std::optional<std::uint64_t> schedstat_ns(const std::string& path) {
    const auto text = read_small_file(path);
    if (!text) return std::nullopt;
    return leading_number<std::uint64_t>(*text);
}

// Reads a process's CPU time: schedstat (ns, summed over its threads) when the kernel has it,
// else utime + stime from /proc/PID/stat. Whichever works first is used for every sample.
class server_probe {
public:
    explicit server_probe(pid_t pid) : pid_(pid), dir_("/proc/" + std::to_string(pid)) {
        use_schedstat_ = schedstat_ns(dir_ + "/schedstat").has_value();
    }

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }

    [[nodiscard]] std::optional<double> cpu_seconds() const {
        return use_schedstat_ ? cpu_from_schedstat() : cpu_from_stat();
    }

    [[nodiscard]] std::optional<std::uint64_t> rss_kb() const {
        const auto text = read_small_file(dir_ + "/status");
        if (!text) return std::nullopt;
        const auto at = text->find("\nVmRSS:");
        if (at == std::string::npos) return std::nullopt;
        return leading_number<std::uint64_t>(std::string_view(*text).substr(at + 7));
    }

private:
    [[nodiscard]] std::optional<double> cpu_from_schedstat() const {
        std::vector<std::string> files;
        try {
            for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/task")) {
                files.push_back(entry.path().string() + "/schedstat");
            }
        } catch (const std::filesystem::filesystem_error&) {
            files.clear();
        }
        if (files.size() <= 1) files.assign(1, dir_ + "/schedstat");
        std::uint64_t total = 0;
        bool any = false;
        for (const auto& file : files) {
            if (const auto ns = schedstat_ns(file)) {  // a thread may exit while we read
                total += *ns;
                any = true;
            }
        }
        if (!any) return std::nullopt;
        return static_cast<double>(total) / 1e9;
    }

    [[nodiscard]] std::optional<double> cpu_from_stat() const {
        const auto text = read_small_file(dir_ + "/stat");
        if (!text) return std::nullopt;
        const auto paren = text->rfind(')');  // the command name may hold spaces and ')'
        if (paren == std::string::npos) return std::nullopt;
        std::string_view rest = std::string_view(*text).substr(paren + 1);
        // rest starts at field 3 (state); utime and stime are fields 14 and 15.
        std::array<std::uint64_t, 2> ticks{};
        for (int field = 3; field <= 15; ++field) {
            while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
            const auto end = std::min(rest.find(' '), rest.size());
            if (field >= 14) {
                const auto value = leading_number<std::uint64_t>(rest.substr(0, end));
                if (!value) return std::nullopt;
                ticks[static_cast<std::size_t>(field - 14)] = *value;
            }
            rest.remove_prefix(end);
        }
        const long per_second = ::sysconf(_SC_CLK_TCK);
        if (per_second <= 0) return std::nullopt;
        return static_cast<double>(ticks[0] + ticks[1]) / static_cast<double>(per_second);
    }

    pid_t pid_;
    std::string dir_;
    bool use_schedstat_ = false;
};

// This process's CPU time (user + system), in seconds.
double own_cpu_seconds() noexcept {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    const auto seconds = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// The server figures for the measured window (and the load generator's own CPU time).
struct server_window {
    std::optional<server_probe> probe;
    std::optional<double> cpu_at_start;
    std::optional<double> cpu_at_end;
    std::optional<std::uint64_t> rss_kb;
    double client_cpu_at_start = 0;
    std::optional<double> client_cpu_s;
    bool begun = false;
    bool ended = false;

    void begin() {
        begun = true;
        client_cpu_at_start = own_cpu_seconds();
        if (probe) cpu_at_start = probe->cpu_seconds();
    }
    void end() {
        if (ended || !begun) return;
        ended = true;
        client_cpu_s = own_cpu_seconds() - client_cpu_at_start;
        if (!probe || !cpu_at_start) return;
        cpu_at_end = probe->cpu_seconds();
        rss_kb = probe->rss_kb();
    }
    [[nodiscard]] std::optional<double> cpu_seconds() const {
        if (!cpu_at_start || !cpu_at_end) return std::nullopt;
        return std::max(0.0, *cpu_at_end - *cpu_at_start);
    }
};

// ------------------------------------------------------------------------------------------------
// Latency histogram: log-linear buckets, 64 per power of two (at most 1.6% wide), 0 to 60 s
// ------------------------------------------------------------------------------------------------

constexpr int histogram_sub_bits = 6;
constexpr std::uint64_t histogram_sub_count = std::uint64_t{1} << histogram_sub_bits;
constexpr std::uint64_t histogram_max_ns = 60'000'000'000;

// Values below 2 * 64 ns get a bucket each; above, a power of two [2^e, 2^(e+1)) is cut into 64.
constexpr std::size_t histogram_bucket_of(std::uint64_t value) noexcept {
    if (value < 2 * histogram_sub_count) return static_cast<std::size_t>(value);
    const int exponent = std::bit_width(value) - 1;
    const int shift = exponent - histogram_sub_bits;
    return static_cast<std::size_t>(static_cast<std::uint64_t>(shift + 1) * histogram_sub_count +
                                    ((value >> shift) - histogram_sub_count));
}

constexpr std::size_t histogram_bucket_count = histogram_bucket_of(histogram_max_ns) + 1;

class latency_histogram {
public:
    void record(nanos latency) noexcept {
        const auto value = static_cast<std::uint64_t>(std::max<nanos>(latency, 0));
        ++counts_[histogram_bucket_of(std::min(value, histogram_max_ns))];
        ++count_;
        max_ = std::max(max_, value);
    }

    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    [[nodiscard]] double max_us() const noexcept { return static_cast<double>(max_) / 1e3; }

    /// The value below which a fraction `q` of the samples lie (bucket middle), in microseconds.
    [[nodiscard]] double percentile_us(double q) const noexcept {
        if (count_ == 0) return 0.0;
        const auto rank = std::clamp<std::uint64_t>(
            static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))), 1, count_);
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < counts_.size(); ++i) {
            seen += counts_[i];
            if (seen >= rank) {
                const double middle = static_cast<double>(bucket_low(i)) +
                                      static_cast<double>(bucket_width(i) - 1) / 2.0;
                return std::min(middle, static_cast<double>(max_)) / 1e3;
            }
        }
        return max_us();
    }

private:
    static std::uint64_t bucket_low(std::size_t index) noexcept {
        if (index < 2 * histogram_sub_count) return index;
        const std::uint64_t shift = index / histogram_sub_count - 1;
        return (histogram_sub_count + index % histogram_sub_count) << shift;
    }
    static std::uint64_t bucket_width(std::size_t index) noexcept {
        if (index < 2 * histogram_sub_count) return 1;
        return std::uint64_t{1} << (index / histogram_sub_count - 1);
    }

    std::array<std::uint64_t, histogram_bucket_count> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t max_ = 0;
};

// ------------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------------

enum class error_kind : std::size_t { connect, reset, mismatch, timeout, other };
constexpr std::array<std::string_view, 5> error_kind_names{"connect", "reset", "mismatch", "timeout",
                                                           "other"};

struct error_counts {
    std::array<std::uint64_t, error_kind_names.size()> by_kind{};

    void add(error_kind kind) noexcept { ++by_kind[static_cast<std::size_t>(kind)]; }
    [[nodiscard]] std::uint64_t total() const noexcept {
        std::uint64_t sum = 0;
        for (const auto n : by_kind) sum += n;
        return sum;
    }
};

error_kind classify(std::error_code error) noexcept {
    if (error == coil::errc::eof || error == std::errc::connection_reset ||
        error == std::errc::broken_pipe || error == std::errc::connection_aborted) {
        return error_kind::reset;
    }
    if (error == std::errc::timed_out) return error_kind::timeout;
    return error_kind::other;
}

// ------------------------------------------------------------------------------------------------
// The byte pattern
// ------------------------------------------------------------------------------------------------

std::uint64_t splitmix64(std::uint64_t& state) noexcept {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// A periodic pseudo-random byte sequence: tape[i] == tape[i % period] for every stored i. The
// period is prime and does not divide the message size, so consecutive messages differ.
class pattern_tape {
public:
    pattern_tape(std::size_t message_size, std::size_t longest_span)
        : period_(message_size % 65521 == 0 ? 65537 : 65521), bytes_(period_ + longest_span) {
        std::uint64_t state = 0x636f696c;  // "coil"
        for (std::size_t i = 0; i < period_; ++i) {
            bytes_[i] = static_cast<std::byte>(splitmix64(state) >> 56);
        }
        for (std::size_t i = period_; i < bytes_.size(); ++i) bytes_[i] = bytes_[i - period_];
    }

    /// Where connection `id`'s byte stream starts on the tape.
    [[nodiscard]] std::uint64_t start_of(std::uint32_t id) const noexcept {
        std::uint64_t state = id;
        return splitmix64(state) % period_;
    }

    /// `length` (at most longest_span) bytes of the stream at `position`.
    [[nodiscard]] std::span<const std::byte> bytes(std::uint64_t position, std::size_t length) const noexcept {
        return {bytes_.data() + position % period_, length};
    }

    [[nodiscard]] bool matches(std::uint64_t position, std::span<const std::byte> received) const noexcept {
        return std::memcmp(bytes_.data() + position % period_, received.data(), received.size()) == 0;
    }

private:
    std::size_t period_;
    std::vector<std::byte> bytes_;
};

// ------------------------------------------------------------------------------------------------
// A one-waiter wake-up between the two coroutines of a connection
// ------------------------------------------------------------------------------------------------

// The writer waits here for credit; the reader (or whoever ends the connection) notifies. The
// waiter is resumed inline: it runs until its next suspension, then notify() returns. Not
// cancellation-aware: whoever cancels a connection also notifies (see end_connection).
class wake_signal {
public:
    wake_signal() noexcept = default;
    wake_signal(const wake_signal&) = delete;
    wake_signal& operator=(const wake_signal&) = delete;

    class awaiter {
    public:
        explicit awaiter(wake_signal& signal) noexcept : signal_(signal) {}
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> waiting) noexcept { signal_.waiter_ = waiting; }
        void await_resume() const noexcept {}

    private:
        wake_signal& signal_;
    };

    awaiter wait() noexcept { return awaiter(*this); }

    void notify() noexcept {
        if (waiter_) std::exchange(waiter_, {}).resume();
    }

private:
    std::coroutine_handle<> waiter_;
};

// ------------------------------------------------------------------------------------------------
// Run state
// ------------------------------------------------------------------------------------------------

struct connection {
    std::uint32_t id = 0;
    coil::tcp_stream stream;
    coil::cancel_source cancel;  // ends this connection alone (failure, timeout)
    wake_signal writer_wakeup;
    std::unique_ptr<std::byte[]> receive_buffer;
    std::unique_ptr<nanos[]> send_times;  // by sequence number modulo depth
    std::uint64_t stream_start = 0;       // tape position of byte 0
    std::uint64_t handed = 0;             // messages handed to send
    std::uint64_t received = 0;           // messages echoed completely
    std::uint64_t bytes_received = 0;
    std::uint32_t receives_since_yield = 0;
    bool active = false;                  // traffic running
    bool finished = false;                // ended (failed, timed out or stopped)

    [[nodiscard]] std::uint64_t in_flight() const noexcept { return handed - received; }
};

struct stop_request {
    std::string reason;
    int exit_code = exit_run_failed;
};

std::size_t receive_buffer_size(const config& cfg) {
    const std::size_t per_connection = std::clamp(receive_memory_budget / cfg.connections,
                                                  smallest_receive_buffer, largest_receive_buffer);
    return std::min(cfg.size * cfg.depth, per_connection);
}

std::size_t messages_per_send(const config& cfg) {
    return std::clamp<std::size_t>(largest_send / cfg.size, 1, cfg.depth);
}

struct run_state {
    run_state(const config& c, const coil::ip_endpoint& target, nanos started)
        : cfg(c),
          endpoint(target),
          receive_size(receive_buffer_size(c)),
          send_batch(messages_per_send(c)),
          tape(c.size, std::max(receive_size, send_batch * c.size)),
          message_timeout(seconds_to_ns(c.timeout_s)),
          hard_deadline(started + seconds_to_ns(c.warmup_s + c.duration_s) + hard_deadline_slack),
          connections(std::make_unique<connection[]>(c.connections)) {
        if (c.stat_pid) server.probe.emplace(*c.stat_pid);
    }

    const config& cfg;
    const coil::ip_endpoint endpoint;
    const std::size_t receive_size;
    const std::size_t send_batch;
    const pattern_tape tape;
    const nanos message_timeout;
    const nanos hard_deadline;

    // Declared before the connections: each connection's cancel source links to a scope below it.
    coil::cancel_source stop;
    bool stopping = false;  // from here on, failures are the stop, not errors
    std::optional<stop_request> early_stop;

    std::unique_ptr<connection[]> connections;
    std::size_t next_to_connect = 0;
    std::size_t connected = 0;
    std::size_t live = 0;
    std::error_code first_connect_error;
    nanos connect_seconds_ns = 0;

    nanos traffic_start = 0;
    nanos measure_start = 0;
    nanos measure_end = 0;  // moved earlier by an early stop

    std::uint64_t completed_total = 0;  // warm-up and window
    std::uint64_t measured = 0;         // completed inside the window
    latency_histogram latency;
    error_counts errors;
    server_window server;
    std::string backend;

    void plan_timeline(nanos start) noexcept {
        traffic_start = start;
        measure_start = start + seconds_to_ns(cfg.warmup_s);
        measure_end = measure_start + seconds_to_ns(cfg.duration_s);
    }

    void record_echo(nanos now, nanos round_trip) noexcept {
        ++completed_total;
        if (now >= measure_start && now < measure_end) {
            ++measured;
            latency.record(round_trip);
        }
    }
};

// Stops the whole run early: the reason decides the exit status.
void request_stop(run_state& s, std::string reason, int exit_code) {
    if (s.stopping) return;
    s.stopping = true;
    s.early_stop = stop_request{std::move(reason), exit_code};
    if (s.traffic_start != 0) s.measure_end = std::clamp(now_ns(), s.measure_start, s.measure_end);
    s.stop.request_cancel();
}

// Ends one connection (once): counts `kind` unless the run is stopping, cancels what the
// connection has in flight and wakes its writer.
void end_connection(connection& c, run_state& s, error_kind kind) {
    if (c.finished) return;
    c.finished = true;
    if (!s.stopping) s.errors.add(kind);
    c.cancel.request_cancel();
    c.writer_wakeup.notify();
}

// ------------------------------------------------------------------------------------------------
// Traffic: one writer and one reader per connection
// ------------------------------------------------------------------------------------------------

void stamp_send_times(connection& c, const run_state& s, std::uint64_t count, nanos now) noexcept {
    for (std::uint64_t seq = c.handed; seq < c.handed + count; ++seq) c.send_times[seq % s.cfg.depth] = now;
}

// Keeps `depth` messages in flight: hands everything the credit allows to one send (consecutive
// messages are contiguous on the tape), then waits for the reader to return credit.
coil::task<void> write_messages(connection& c, run_state& s) {
    const std::size_t size = s.cfg.size;
    while (!c.finished) {
        const std::uint64_t credit = s.cfg.depth - c.in_flight();
        if (credit == 0) {
            co_await c.writer_wakeup.wait();
            continue;
        }
        const std::uint64_t count = std::min<std::uint64_t>(credit, s.send_batch);
        stamp_send_times(c, s, count, now_ns());
        auto bytes = s.tape.bytes(c.stream_start + c.handed * size, count * size);
        c.handed += count;
        while (!bytes.empty()) {
            auto sent = co_await c.stream.send(bytes);
            if (!sent) {
                end_connection(c, s, classify(sent.error()));
                co_return;
            }
            bytes = bytes.subspan(*sent);
        }
    }
}

// True if `bytes`, arriving after what the connection already received, are what was sent.
bool echo_matches(const connection& c, const run_state& s, std::span<const std::byte> bytes) noexcept {
    if (c.bytes_received + bytes.size() > c.handed * s.cfg.size) return false;  // more than was sent
    return s.tape.matches(c.stream_start + c.bytes_received, bytes);
}

// Records every message completed by the bytes received so far; returns how many.
std::uint64_t complete_messages(connection& c, run_state& s, nanos now) noexcept {
    const std::uint64_t complete = c.bytes_received / s.cfg.size;
    const std::uint64_t newly = complete - c.received;
    for (; c.received < complete; ++c.received) {
        s.record_echo(now, now - c.send_times[c.received % s.cfg.depth]);
    }
    return newly;
}

// True once every `receives_per_yield` receives of a connection. On epoll a receive with data
// waiting completes without suspending, so a connection whose server keeps up would otherwise run
// on and on and starve the others (observed: p99 latency of seconds at 100 x 64 KiB x depth 16).
bool time_to_yield(connection& c) noexcept {
    if (++c.receives_since_yield < receives_per_yield) return false;
    c.receives_since_yield = 0;
    return true;
}

coil::task<void> read_messages(connection& c, run_state& s) {
    const std::span<std::byte> buffer(c.receive_buffer.get(), s.receive_size);
    while (!c.finished) {
        auto got = co_await c.stream.recv(buffer);
        if (!got) {
            end_connection(c, s, classify(got.error()));
            co_return;
        }
        const auto bytes = buffer.first(*got);
        if (c.finished) co_return;
        if (!echo_matches(c, s, bytes)) {
            end_connection(c, s, error_kind::mismatch);
            co_return;
        }
        c.bytes_received += bytes.size();
        if (complete_messages(c, s, now_ns()) > 0) c.writer_wakeup.notify();
        if (time_to_yield(c)) co_await coil::yield();
    }
}

// Runs one connection's writer and reader under the connection's own cancel scope (which also
// follows the run's), then closes it.
coil::task<void> drive_connection(connection& c, run_state& s) {
    c.cancel.link_to(co_await coil::current_cancel_token());
    c.active = true;
    auto exchange = coil::when_all(write_messages(c, s), read_messages(c, s));
    exchange.set_cancel_token(c.cancel.token());
    co_await std::move(exchange);
    c.active = false;
    c.cancel.link_to(coil::cancel_token{});  // the parent scope dies before this connection
    c.stream.close();
    if (--s.live == 0 && !s.stopping) request_stop(s, "every connection failed", exit_run_failed);
}

// ------------------------------------------------------------------------------------------------
// Housekeeping tasks: stall watchdog, progress, the measured window, stop guards
// ------------------------------------------------------------------------------------------------

void expire_stalled_connections(run_state& s, nanos now) {
    for (std::size_t i = 0; i < s.cfg.connections; ++i) {
        connection& c = s.connections[i];
        if (!c.active || c.finished || c.in_flight() == 0) continue;
        const nanos oldest_sent = c.send_times[c.received % s.cfg.depth];
        if (now - oldest_sent > s.message_timeout) end_connection(c, s, error_kind::timeout);
    }
}

coil::task<void> watch_for_stalls(run_state& s) {
    const nanos period = std::clamp<nanos>(s.message_timeout / 4, 10'000'000, 250'000'000);
    for (;;) {
        const auto slept = co_await coil::sleep_for(std::chrono::nanoseconds(period));
        if (!slept) co_return;  // cancelled: the run is over
        expire_stalled_connections(s, now_ns());
    }
}

std::string with_separators(std::uint64_t value) {
    const std::string digits = std::to_string(value);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

coil::task<void> report_progress(run_state& s) {
    constexpr nanos second = 1'000'000'000;
    nanos previous_time = s.traffic_start;
    std::uint64_t previous_count = 0;
    for (nanos next = s.traffic_start + second;; next += second) {
        const auto slept = co_await coil::sleep_until(to_time_point(next));
        if (!slept) co_return;  // cancelled: the run is over
        const nanos now = now_ns();
        const double rate = static_cast<double>(s.completed_total - previous_count) /
                            std::max(1e-9, ns_to_seconds(now - previous_time));
        std::fprintf(stderr, "echo_load: %6.1fs %-7s %12s msg/s  errors %s\n",
                     ns_to_seconds(now - s.traffic_start), now < s.measure_start ? "warmup" : "measure",
                     with_separators(static_cast<std::uint64_t>(std::llround(rate))).c_str(),
                     with_separators(s.errors.total()).c_str());
        previous_time = now;
        previous_count = s.completed_total;
    }
}

// Samples the server at the start and the end of the window (or at an early stop).
coil::task<void> measure_window(run_state& s) {
    const auto warmed_up = co_await coil::sleep_until(to_time_point(s.measure_start));
    if (warmed_up) {
        s.server.begin();
        (void)co_await coil::sleep_until(to_time_point(s.measure_end));
    }
    s.server.end();
}

coil::task<void> stop_at_hard_deadline(run_state& s) {
    const auto slept = co_await coil::sleep_until(to_time_point(s.hard_deadline));
    if (!slept) co_return;  // cancelled: the run ended in time
    request_stop(s, "hard deadline (warmup + duration + 10 s) reached before the run ended",
                 exit_run_failed);
}

coil::task<void> stop_on_signal(coil::signal_set& signals, run_state& s) {
    const auto signo = co_await signals.wait();
    if (!signo) co_return;
    request_stop(s, std::string("interrupted by ") + (*signo == SIGINT ? "SIGINT" : "SIGTERM"),
                 exit_interrupted);
}

// ------------------------------------------------------------------------------------------------
// Phases
// ------------------------------------------------------------------------------------------------

void open_connection(connection& c, run_state& s, coil::tcp_stream stream) {
    (void)stream.set_nodelay();  // can only fail on a socket that is not TCP
    c.stream = std::move(stream);
    c.stream_start = s.tape.start_of(c.id);
    c.receive_buffer = std::make_unique_for_overwrite<std::byte[]>(s.receive_size);
    c.send_times = std::make_unique<nanos[]>(s.cfg.depth);
    ++s.connected;
}

// Takes the next unopened connection until none is left: `connect_concurrency` of these bound
// the attempts in flight.
coil::task<void> connect_worker(run_state& s) {
    const auto timeout = std::chrono::nanoseconds(seconds_to_ns(s.cfg.connect_timeout_s));
    while (s.next_to_connect < s.cfg.connections && !s.stopping) {
        connection& c = s.connections[s.next_to_connect];
        c.id = static_cast<std::uint32_t>(s.next_to_connect++);
        auto stream = co_await coil::tcp_connect(s.endpoint, timeout);
        if (stream) {
            open_connection(c, s, std::move(*stream));
        } else if (!s.stopping) {
            s.errors.add(error_kind::connect);
            if (!s.first_connect_error) s.first_connect_error = stream.error();
        }
    }
}

coil::task<void> connect_all(run_state& s) {
    const nanos started = now_ns();
    coil::task_group workers(co_await coil::current_cancel_token());
    const std::size_t count = std::min(s.cfg.connect_concurrency, s.cfg.connections);
    for (std::size_t i = 0; i < count; ++i) workers.spawn(connect_worker(s));
    co_await workers.join();
    s.connect_seconds_ns = now_ns() - started;
}

void report_connect_phase(const run_state& s) {
    if (s.cfg.quiet && s.connected == s.cfg.connections) return;
    std::fprintf(stderr, "echo_load: connected %s of %s to %s in %.3f s",
                 with_separators(s.connected).c_str(), with_separators(s.cfg.connections).c_str(),
                 s.endpoint.to_string().c_str(), ns_to_seconds(s.connect_seconds_ns));
    if (s.first_connect_error) {
        std::fprintf(stderr, " (%s failed; first error: %s)",
                     with_separators(s.errors.by_kind[0]).c_str(),
                     s.first_connect_error.message().c_str());
    }
    std::fputc('\n', stderr);
}

void start_traffic(coil::task_group& traffic, run_state& s) {
    for (std::size_t i = 0; i < s.cfg.connections; ++i) {
        if (!s.connections[i].stream.is_open()) continue;
        ++s.live;
        traffic.spawn(drive_connection(s.connections[i], s));
    }
    traffic.spawn(watch_for_stalls(s));
    if (!s.cfg.quiet) traffic.spawn(report_progress(s));
}

// connect -> warm-up -> measured window -> stop. Runs under the run's stop scope.
coil::task<void> run_phases(run_state& s) {
    co_await connect_all(s);
    report_connect_phase(s);
    if (s.connected == 0 || s.stopping) co_return;
    s.plan_timeline(now_ns());
    coil::task_group traffic(co_await coil::current_cancel_token());
    start_traffic(traffic, s);
    co_await measure_window(s);
    s.stopping = true;
    traffic.cancel();
    co_await traffic.join();
}

void close_all(run_state& s) {
    for (std::size_t i = 0; i < s.cfg.connections; ++i) s.connections[i].stream.close();
}

coil::task<void> run_benchmark(run_state& s, coil::signal_set& signals) {
    coil::task_group guards;
    guards.spawn(stop_at_hard_deadline(s));
    guards.spawn(stop_on_signal(signals, s));
    auto phases = run_phases(s);
    phases.set_cancel_token(s.stop.token());
    co_await std::move(phases);
    guards.cancel();
    co_await guards.join();
    close_all(s);
}

// ------------------------------------------------------------------------------------------------
// Report
// ------------------------------------------------------------------------------------------------

struct report {
    double window_s = 0;
    double msgs_per_s = 0;
    double mb_per_s = 0;
    std::array<double, 5> latency_us{};  // p50, p90, p99, p99.9, max
    std::optional<double> server_cpu_s;
    std::optional<std::uint64_t> server_rss_kb;
    std::optional<std::string> failure;  // why the run failed: the exit status is then non-zero
    int exit_code = exit_ok;
};

report make_report(const run_state& s) {
    report r;
    if (s.traffic_start != 0) r.window_s = std::max(0.0, ns_to_seconds(s.measure_end - s.measure_start));
    if (r.window_s > 0) {
        r.msgs_per_s = static_cast<double>(s.measured) / r.window_s;
        r.mb_per_s = r.msgs_per_s * static_cast<double>(s.cfg.size) / 1e6;
    }
    r.latency_us = {s.latency.percentile_us(0.50), s.latency.percentile_us(0.90),
                    s.latency.percentile_us(0.99), s.latency.percentile_us(0.999), s.latency.max_us()};
    r.server_cpu_s = s.server.cpu_seconds();
    r.server_rss_kb = s.server.rss_kb;
    if (s.connected == 0) {
        r.failure = "no connection could be established";
        if (s.first_connect_error) r.failure->append(" (" + s.first_connect_error.message() + ")");
        r.exit_code = exit_run_failed;
    } else if (s.early_stop) {
        r.failure = s.early_stop->reason;
        r.exit_code = s.early_stop->exit_code;
    } else if (s.measured == 0) {
        r.failure = "no message was echoed in the measured window";
        r.exit_code = exit_run_failed;
    }
    return r;
}

std::string format(const char* pattern, double value) {
    std::array<char, 64> text{};
    std::snprintf(text.data(), text.size(), pattern, value);
    return text.data();
}

std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (const char ch : text) {
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (static_cast<unsigned char>(ch) < 0x20) {
            out += ' ';
        } else {
            out += ch;
        }
    }
    return out + "\"";
}

std::string to_json(const run_state& s, const report& r) {
    std::string j = "{";
    j += "\"connections\":" + std::to_string(s.cfg.connections);
    j += ",\"size\":" + std::to_string(s.cfg.size);
    j += ",\"depth\":" + std::to_string(s.cfg.depth);
    j += ",\"duration_s\":" + format("%.3f", r.window_s);
    j += ",\"messages\":" + std::to_string(s.measured);
    j += ",\"msgs_per_s\":" + format("%.1f", r.msgs_per_s);
    j += ",\"mb_per_s\":" + format("%.3f", r.mb_per_s);
    j += ",\"latency_us\":{";
    constexpr std::array<std::string_view, 5> names{"p50", "p90", "p99", "p999", "max"};
    for (std::size_t i = 0; i < names.size(); ++i) {
        j += (i ? ",\"" : "\"") + std::string(names[i]) + "\":" + format("%.2f", r.latency_us[i]);
    }
    j += "},\"errors\":{";
    for (std::size_t i = 0; i < error_kind_names.size(); ++i) {
        j += (i ? ",\"" : "\"") + std::string(error_kind_names[i]) + "\":" + std::to_string(s.errors.by_kind[i]);
    }
    j += "},\"server_cpu_s\":" + (r.server_cpu_s ? format("%.3f", *r.server_cpu_s) : "null");
    j += ",\"server_rss_kb\":" + (r.server_rss_kb ? std::to_string(*r.server_rss_kb) : "null");
    j += ",\"backend\":" + json_string(s.backend);
    j += ",\"warmup_s\":" + format("%.3f", s.cfg.warmup_s);
    j += ",\"client_cpu_s\":" + (s.server.client_cpu_s ? format("%.3f", *s.server.client_cpu_s) : "null");
    j += ",\"connected\":" + std::to_string(s.connected);
    j += ",\"failure\":" + (r.failure ? json_string(*r.failure) : "null");
    return j + "}";
}

void print_summary(std::FILE* out, const run_state& s, const report& r) {
    std::fprintf(out, "echo_load: %s, backend %s, %s connections (%s connected), %zu B, depth %zu\n",
                 s.endpoint.to_string().c_str(), s.backend.c_str(),
                 with_separators(s.cfg.connections).c_str(), with_separators(s.connected).c_str(),
                 s.cfg.size, s.cfg.depth);
    std::fprintf(out, "  measured %.3f s: %s messages, %s msg/s, %.3f MB/s payload one way\n", r.window_s,
                 with_separators(s.measured).c_str(),
                 with_separators(static_cast<std::uint64_t>(std::llround(r.msgs_per_s))).c_str(),
                 r.mb_per_s);
    std::fprintf(out, "  latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
                 r.latency_us[0], r.latency_us[1], r.latency_us[2], r.latency_us[3], r.latency_us[4]);
    std::fprintf(out, "  errors:");
    for (std::size_t i = 0; i < error_kind_names.size(); ++i) {
        std::fprintf(out, "%s %.*s %s", i ? "," : "", static_cast<int>(error_kind_names[i].size()),
                     error_kind_names[i].data(), with_separators(s.errors.by_kind[i]).c_str());
    }
    std::fputc('\n', out);
    if (s.server.probe) {
        std::fprintf(out, "  server pid %d: cpu %s s in the window, rss %s KiB\n",
                     static_cast<int>(s.server.probe->pid()),
                     r.server_cpu_s ? format("%.3f", *r.server_cpu_s).c_str() : "?",
                     r.server_rss_kb ? with_separators(*r.server_rss_kb).c_str() : "?");
    }
    if (s.server.client_cpu_s) {
        std::fprintf(out, "  echo_load itself: cpu %.3f s in the window\n", *s.server.client_cpu_s);
    }
}

// ------------------------------------------------------------------------------------------------
// Main
// ------------------------------------------------------------------------------------------------

std::atomic<bool> run_over{false};

// A last resort if the loop cannot stop after the hard deadline (it should, on its own): exits.
void start_stuck_guard(nanos hard_deadline) {
    std::thread([hard_deadline] {
        std::this_thread::sleep_until(to_time_point(hard_deadline + stuck_grace));
        if (run_over.load()) return;
        constexpr std::string_view message =
            "echo_load: error: still running 5 s after the hard deadline; giving up\n";
        (void)!::write(STDERR_FILENO, message.data(), message.size());
        std::_Exit(exit_stuck);
    }).detach();
}

std::optional<config> read_config(int argc, char** argv, int& exit_code) {
    try {
        config cfg = parse_command_line(argc, argv);
        (void)parse_endpoint(cfg);
        if (cfg.stat_pid && !read_small_file("/proc/" + std::to_string(*cfg.stat_pid) + "/stat")) {
            throw usage_error("--stat-pid: no process " + std::to_string(*cfg.stat_pid));
        }
        return cfg;
    } catch (const help_requested&) {
        std::fwrite(usage_text.data(), 1, usage_text.size(), stdout);
        exit_code = exit_ok;
    } catch (const usage_error& e) {
        std::fprintf(stderr, "echo_load: %s\n\n", e.what());
        std::fwrite(usage_text.data(), 1, usage_text.size(), stderr);
        exit_code = exit_usage;
    }
    return std::nullopt;
}

int run(const config& cfg) {
    const nanos started = now_ns();
    if (auto problem = raise_fd_limit(cfg.connections)) {
        std::fprintf(stderr, "echo_load: error: %s\n", problem->c_str());
        return exit_run_failed;
    }
    coil::event_loop loop(coil::loop_options{cfg.backend});
    coil::signal_set signals{SIGINT, SIGTERM};
    run_state state(cfg, parse_endpoint(cfg), started);
    state.backend = std::string(coil::to_string(loop.backend()));
    start_stuck_guard(state.hard_deadline);
    loop.run(run_benchmark(state, signals));
    run_over.store(true);

    const report r = make_report(state);
    if (cfg.json) {
        print_summary(stderr, state, r);
        std::printf("%s\n", to_json(state, r).c_str());
        std::fflush(stdout);
    } else {
        print_summary(stdout, state, r);
        std::fflush(stdout);
    }
    if (r.failure) std::fprintf(stderr, "echo_load: error: %s\n", r.failure->c_str());
    return r.exit_code;
}

}  // namespace

int main(int argc, char** argv) {
    int exit_code = exit_ok;
    const auto cfg = read_config(argc, argv, exit_code);
    if (!cfg) return exit_code;
    try {
        return run(*cfg);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_load: error: %s\n", e.what());
        return exit_run_failed;
    }
}
