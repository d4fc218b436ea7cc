// The server's CPU time and memory, from /proc: schedstat summed over its threads (or utime +
// stime from stat) and VmRSS from status.

#include "bench/echo_load/server_probe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <vector>

namespace echo_load {
namespace {

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

}  // namespace

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

server_probe::server_probe(pid_t pid) : pid_(pid), dir_("/proc/" + std::to_string(pid)) {
    use_schedstat_ = schedstat_ns(dir_ + "/schedstat").has_value();
}

std::optional<std::uint64_t> server_probe::rss_kb() const {
    const auto text = read_small_file(dir_ + "/status");
    if (!text) return std::nullopt;
    const auto at = text->find("\nVmRSS:");
    if (at == std::string::npos) return std::nullopt;
    return leading_number<std::uint64_t>(std::string_view(*text).substr(at + 7));
}

std::optional<double> server_probe::cpu_from_schedstat() const {
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

std::optional<double> server_probe::cpu_from_stat() const {
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

}  // namespace echo_load
