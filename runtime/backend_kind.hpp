#pragma once
// Which kernel interface an event loop uses for I/O.

#include <optional>
#include <string_view>
#include <vector>

namespace coil {

enum class backend_kind { io_uring, epoll };

std::string_view to_string(backend_kind kind) noexcept;

/// "io_uring" or "epoll" (also "uring"); nullopt for anything else.
std::optional<backend_kind> parse_backend_kind(std::string_view name) noexcept;

/// Whether an event loop could use `kind` on this machine now (io_uring: built in, and the ring
/// and the opcodes coil uses are available). The result is computed once per process.
bool backend_available(backend_kind kind);

/// Both kinds, in preference order: for tests and benchmarks that run on every backend.
std::vector<backend_kind> all_backend_kinds();

}  // namespace coil
