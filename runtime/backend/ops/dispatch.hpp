#pragma once
// The one place that maps an op_code to its operation type (see op_traits.hpp). Backends ask
// through the functions below and never switch on op_code themselves.
//
// Cost: visit() is an always-inlined switch over a dense enum whose cases call static member
// functions the compiler sees, so run_once() and prep() compile to what the old hand-written
// switches gave (a jump table); traits_of() is a bounds check and a load from a table built at
// compile time. No function pointer, no indirect call.
//
// Adding an operation: its header here, one include and one case below, its op_code in
// runtime/detail/io_op.hpp, its factory in runtime/io.hpp (docs/backends.md, "Adding an
// operation").

#include <array>
#include <cstddef>
#include <utility>

#include "coil/runtime/backend/ops/accept.hpp"
#include "coil/runtime/backend/ops/accept_multishot.hpp"
#include "coil/runtime/backend/ops/close.hpp"
#include "coil/runtime/backend/ops/connect.hpp"
#include "coil/runtime/backend/ops/nop.hpp"
#include "coil/runtime/backend/ops/op_traits.hpp"
#include "coil/runtime/backend/ops/poll.hpp"
#include "coil/runtime/backend/ops/read.hpp"
#include "coil/runtime/backend/ops/recv.hpp"
#include "coil/runtime/backend/ops/recv_multishot.hpp"
#include "coil/runtime/backend/ops/recv_pooled.hpp"
#include "coil/runtime/backend/ops/recvmsg.hpp"
#include "coil/runtime/backend/ops/send.hpp"
#include "coil/runtime/backend/ops/sendmsg.hpp"
#include "coil/runtime/backend/ops/write.hpp"

namespace coil::detail::ops {

/// Calls fn(Op{}) with the type of the operation `code` names. -Wswitch (on in every build)
/// flags an op_code without a case here. Always inlined: each use is then the switch itself,
/// with the op's code in its case, as a hand-written switch would be.
template <class F>
[[gnu::always_inline]] constexpr decltype(auto) visit(op_code code, F&& fn) {
    switch (code) {
        case op_code::nop: return std::forward<F>(fn)(nop_op{});
        case op_code::read: return std::forward<F>(fn)(read_op{});
        case op_code::write: return std::forward<F>(fn)(write_op{});
        case op_code::recv: return std::forward<F>(fn)(recv_op{});
        case op_code::send: return std::forward<F>(fn)(send_op{});
        case op_code::sendmsg: return std::forward<F>(fn)(sendmsg_op{});
        case op_code::recvmsg: return std::forward<F>(fn)(recvmsg_op{});
        case op_code::accept: return std::forward<F>(fn)(accept_op{});
        case op_code::accept_multishot: return std::forward<F>(fn)(accept_multishot_op{});
        case op_code::connect: return std::forward<F>(fn)(connect_op{});
        case op_code::close: return std::forward<F>(fn)(close_op{});
        case op_code::poll_readable: return std::forward<F>(fn)(poll_readable_op{});
        case op_code::poll_writable: return std::forward<F>(fn)(poll_writable_op{});
        case op_code::recv_pooled: return std::forward<F>(fn)(recv_pooled_op{});
        case op_code::recv_multishot: return std::forward<F>(fn)(recv_multishot_op{});
        case op_code::count_: break;
    }
    // Not an operation (memory corruption): the nop keeps this total.
    return std::forward<F>(fn)(nop_op{});
}

namespace detail_ {
constexpr auto make_traits_table() noexcept {
    std::array<op_traits, static_cast<std::size_t>(op_code::count_)> table{};
    for (std::size_t i = 0; i < table.size(); ++i) {
        table[i] = visit(static_cast<op_code>(i), [](auto op) { return decltype(op)::traits; });
    }
    return table;
}
}  // namespace detail_

/// Every op's traits, built at compile time from the op types: traits_of(code).x is one load
/// (after a bounds check).
inline constexpr auto traits_table = detail_::make_traits_table();

/// Total, as visit() is: a code that names no operation (memory corruption) gets the nop's
/// traits, never a read past the table (one compare, predicted).
constexpr const op_traits& traits_of(op_code code) noexcept {
    const auto i = static_cast<std::size_t>(code);
    return i < traits_table.size() ? traits_table[i] : traits_table[static_cast<std::size_t>(op_code::nop)];
}

/// One non-blocking attempt of the op's syscall: the result, or -errno (see sys_op.hpp for the
/// retrying wrapper the epoll backend uses).
inline int run_once(io_op& op) noexcept {
    return visit(op.code, [&](auto o) noexcept { return decltype(o)::run(op); });
}

#if COIL_IO_URING_BUILT
/// Fills `sqe` for the op (no flags, no user_data: the backend adds those).
[[gnu::always_inline]] inline void prep(io_uring_sqe& sqe, io_op& op) noexcept {
    visit(op.code, [&](auto o) noexcept { decltype(o)::prep(sqe, op); });
}
#endif

}  // namespace coil::detail::ops
