#pragma once
// The file-descriptor limit: one fd per connection must fit under RLIMIT_NOFILE.

#include <cstddef>
#include <optional>
#include <string>

namespace echo_load {

// Raises the soft RLIMIT_NOFILE to the hard limit; returns an error message if `connections`
// (plus spare_fds) still do not fit.
std::optional<std::string> raise_fd_limit(std::size_t connections);

}  // namespace echo_load
