// The report: figures from the run state, the JSON object and the human-readable summary.

#include "bench/echo_load/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string_view>

#include "bench/echo_load/clock.hpp"
#include "bench/echo_load/errors.hpp"
#include "bench/echo_load/number_format.hpp"

namespace echo_load {
namespace {

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

}  // namespace

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

}  // namespace echo_load
