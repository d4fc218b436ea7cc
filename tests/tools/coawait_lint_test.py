#!/usr/bin/env python3
"""Tests tools/coawait_lint.py: each placement GCC 12.2 miscompiles is reported, and the
placements that are fine are not. Usage: coawait_lint_test.py REPO_ROOT (exit 0: all pass)."""
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(sys.argv.pop(1) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2])
sys.path.insert(0, str(ROOT / "tools"))
from coawait_lint import check_text  # noqa: E402


def body(statement: str) -> str:
    return "coil::task<void> f() {\n    " + statement + "\n}\n"


class FlagsWhatGcc12Miscompiles(unittest.TestCase):
    def assert_flagged(self, statement: str, what: str):
        found = check_text(body(statement), "f.cpp")
        self.assertTrue(any(what in f for f in found), f"{statement!r}: {found}")

    def test_if_condition(self):
        self.assert_flagged("if (!co_await s.send_all(b)) co_return;", "if/switch condition")

    def test_switch_condition(self):
        self.assert_flagged("switch (co_await next()) {}", "if/switch condition")

    # The case the first lint missed: a parenthesised co_await as the left operand.
    def test_parenthesised_co_await_left_of_and(self):
        self.assert_flagged("auto ok = (co_await x) && y;", "operand of &&")

    # GoogleTest's EXPECT_*/ASSERT_* put their arguments in an if condition; assert in a ?:.
    def test_co_await_inside_expect_macro(self):
        self.assert_flagged("EXPECT_TRUE(co_await s.send_all(b));", "EXPECT_TRUE(...)")

    def test_co_await_inside_assert_eq_macro(self):
        self.assert_flagged("ASSERT_EQ((co_await r).value(), 3u);", "ASSERT_EQ(...)")

    def test_co_await_inside_assert(self):
        self.assert_flagged("assert(co_await ready());", "assert(...)")

    def test_co_await_left_of_or(self):
        self.assert_flagged("auto ok = co_await x || y;", "operand of ||")

    def test_co_await_right_of_and(self):
        self.assert_flagged("auto ok = y && co_await x;", "operand of &&")

    def test_nested_parentheses(self):
        self.assert_flagged("auto ok = (1 + (co_await x)) || y;", "operand of ||")

    def test_either_branch_of_conditional(self):
        self.assert_flagged("auto v = c ? co_await x : 0;", "operand of ?:")
        self.assert_flagged("auto v = c ? 0 : co_await x;", "operand of ?:")

    def test_return_and_loop_condition(self):
        self.assert_flagged("co_return a || co_await b;", "operand of ||")
        self.assert_flagged("while (n && co_await more()) {}", "operand of &&")


class LeavesFineCodeAlone(unittest.TestCase):
    # A lambda body inside the macro is a coroutine of its own: its co_await is in no condition.
    def test_co_await_in_a_lambda_inside_expect(self):
        self.assert_clean("EXPECT_TRUE(run([&]() -> task<bool> { auto r = co_await f(); co_return r; }()));")

    def assert_clean(self, statement: str):
        self.assertEqual(check_text(body(statement), "f.cpp"), [], statement)

    def test_await_into_a_local_then_test_it(self):
        self.assert_clean("auto sent = co_await s.send_all(b);\n    if (!sent) co_return;")

    def test_operator_inside_the_awaited_call(self):
        self.assert_clean("auto r = co_await f(a && b, c || d);")

    def test_operator_in_a_sibling_argument(self):
        self.assert_clean("g(a && b, co_await x);")

    def test_operator_in_a_lambda_body(self):
        self.assert_clean("auto r = co_await when_all([&] { return a && b; }(), y);")

    def test_reference_declarators(self):
        self.assert_clean("auto&& r = co_await x;\n    T&& t = co_await y;")

    def test_comments_and_strings(self):
        self.assert_clean('// if (co_await x) a && co_await y\n    const char* s = "a && co_await x";')

    def test_operator_co_await_declaration(self):
        self.assert_clean("auto operator co_await() && { return awaiter{}; }")


class RunsOnAUsersSources(unittest.TestCase):
    def test_command_line_on_a_folder(self):
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "src").mkdir()
            (Path(tmp) / "src" / "good.cc").write_text(body("auto n = co_await x;"))
            (Path(tmp) / "src" / "bad.hpp").write_text(body("auto ok = (co_await x) && y;"))
            r = subprocess.run([sys.executable, str(ROOT / "tools/coawait_lint.py"), tmp],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("bad.hpp:2: co_await inside an operand of &&", r.stdout)
            self.assertNotIn("good.cc", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
