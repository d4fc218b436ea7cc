#pragma once
// echo_load's configuration and its command line: the flags, their checks and the usage text.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "coil/net/ip_endpoint.hpp"
#include "coil/runtime/backend_kind.hpp"

namespace echo_load {

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

struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// The server's address. "[::1]" is accepted as well as "::1". Throws usage_error.
coil::ip_endpoint parse_endpoint(const config& cfg);

/// Parses and checks the command line. On --help or a usage error, prints the usage text (to stdout
/// or, after the error, to stderr), sets `exit_code` and returns nothing.
std::optional<config> read_config(int argc, char** argv, int& exit_code);

}  // namespace echo_load
