// Description: an io_op whose code names no operation (op_code is a uint8_t: memory corruption
// or a code past op_code::count_). ops::visit() and so run_once() and prep() fell back to the
// nop for such a code, but ops::traits_of(), which event_loop::start_io and both backends ask
// first, indexed its table with the code unchecked: a read past the end of the table (undefined
// behaviour; garbage traits then steered the backend, e.g. "closes_fd"). Now traits_of is total
// as visit is: every code outside the table gets the nop's traits.
#include <gtest/gtest.h>

#include <cstdint>

#include "coil/runtime/backend/ops/dispatch.hpp"
#include "coil/runtime/detail/io_op.hpp"

namespace {

using coil::detail::op_code;
namespace ops = coil::detail::ops;

bool same(const ops::op_traits& a, const ops::op_traits& b) {
    return a.waits_for == b.waits_for && a.remembers_readiness == b.remembers_readiness &&
           a.transfers_data == b.transfers_data && a.empty_is_a_message == b.empty_is_a_message &&
           a.reissues_after_poll == b.reissues_after_poll && a.yields_fd == b.yields_fd &&
           a.closes_fd == b.closes_fd;
}

TEST(OpDispatchUnknownCode, EveryCodePastTheTableGetsTheNopsTraitsAndRun) {
    const ops::op_traits& nop = ops::traits_of(op_code::nop);
    const auto first_unknown = static_cast<unsigned>(op_code::count_);
    for (unsigned code = first_unknown; code <= 0xff; ++code) {
        const auto c = static_cast<op_code>(code);
        EXPECT_TRUE(same(ops::traits_of(c), nop)) << "code " << code;
        coil::detail::io_op op;
        op.code = c;
        op.fd = -1;  // the nop touches no fd; any real syscall on -1 would fail with -EBADF
        EXPECT_EQ(ops::run_once(op), 0) << "code " << code;
    }
}

TEST(OpDispatchUnknownCode, KnownCodesKeepTheirOwnTraits) {
    // The bounds check must not hide a real op: close still closes, accept still yields an fd.
    EXPECT_TRUE(ops::traits_of(op_code::close).closes_fd);
    EXPECT_TRUE(ops::traits_of(op_code::accept).yields_fd);
    EXPECT_TRUE(ops::traits_of(op_code::recv_pooled).transfers_data);
    EXPECT_FALSE(ops::traits_of(op_code::nop).closes_fd);
}

}  // namespace
