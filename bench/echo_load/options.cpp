// echo_load's command line: parsing and checking every flag, and the usage text.

#include "bench/echo_load/options.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <span>
#include <string_view>
#include <system_error>

#include "bench/echo_load/exit_codes.hpp"
#include "bench/echo_load/server_probe.hpp"

namespace echo_load {
namespace {

constexpr std::size_t max_message_size = std::size_t{8} << 20;
constexpr std::size_t max_depth = 4096;
constexpr std::size_t max_connections = 1'000'000;

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

}  // namespace

// "[::1]" is accepted as well as "::1".
coil::ip_endpoint parse_endpoint(const config& cfg) {
    std::string_view host = cfg.host;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    auto endpoint = coil::ip_endpoint::from_address(host, cfg.port);
    if (!endpoint) throw usage_error("--host: not an IPv4 or IPv6 address literal: '" + cfg.host + "'");
    return *endpoint;
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

}  // namespace echo_load
