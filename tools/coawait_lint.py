#!/usr/bin/env python3
"""coawait_lint: finds the co_await placements that GCC 12.2 miscompiles. Exit 1 on any finding.

GCC 12.2 (Debian 12's compiler) lays out the coroutine frame too small for some co_await
expressions that sit in a condition: the body then silently misbehaves, or ASan reports a
heap-buffer-overflow in the frame (GCC PR 106188, fixed in GCC 12.3). The rule this checks,
for coil and for code built on it (see docs/gcc12.md):

  - no co_await inside an if/switch condition;
  - no co_await inside an operand of &&, || or ?: -- on either side, parenthesised or not:
    `a && co_await x`, `co_await x || a`, `(co_await x) && a`, `c ? a : co_await x`.

  - no co_await inside the arguments of a macro that expands to a condition: GoogleTest's
    EXPECT_* and ASSERT_* (an `if` around the arguments) and assert (a `?:`).
Await into a local first, then test the local. A co_await inside a function argument, a lambda
body or the operand of the co_await itself is fine: `co_await f(a && b)`, `g(a && b, co_await x)`.

Usage: coawait_lint.py PATH [PATH ...]   (files, or folders searched for C++ sources)
It reads source text (comments and literals are ignored), not preprocessed code: a co_await
hidden in a macro is not seen. `&&` written right after a name or `>` (auto&& x, T&& v) is taken
as a reference declarator, not the logical operator.
"""
import re
import sys
from pathlib import Path

SUFFIXES = {".cpp", ".cc", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h", ".ipp", ".tpp"}
COAWAIT = re.compile(r"(?<!operator )\bco_await\b")


def strip_literals_and_comments(text: str) -> str:
    """Blanks out string/char literals and comments, keeping offsets and newlines."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out[i:j] = " " * (j - i)
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out[i:j] = [ch if ch == "\n" else " " for ch in text[i:j]]
            i = j
        elif c == "'" and i > 0 and text[i - 1].isalnum():
            i += 1  # a digit separator (200'000), not a character literal
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out[i + 1:j] = " " * (j - i - 1)
            i = j + 1
        else:
            i += 1
    return "".join(out)


def closing_paren(code: str, i: int) -> int:
    """The index of the ) that closes the ( just before position i (len(code) if none)."""
    depth, j = 1, i
    while j < len(code) and depth:
        depth += {"(": 1, ")": -1}.get(code[j], 0)
        j += 1
    return j - 1 if depth == 0 else len(code)


def condition_spans(code: str):
    """Yields (start, end) of the parenthesised condition of every if/switch."""
    for m in re.finditer(r"\b(if|switch)\s*(constexpr\s*)?\(", code):
        yield m.end(), closing_paren(code, m.end())


def group_start(code: str, i: int) -> int:
    """Scans left from i for the unmatched ( or [ around i, or the statement's start (; { }).
    Returns its index (-1: start of file)."""
    depth, j = 0, i - 1
    while j >= 0:
        c = code[j]
        if c in ")]":
            depth += 1
        elif c in "([":
            if depth == 0:
                return j
            depth -= 1
        elif c in ";{}" and depth == 0:
            return j
        j -= 1
    return -1


def group_end(code: str, i: int) -> int:
    """Scans right from i for the unmatched ) or ] around i, or the statement's end (; { })."""
    depth, j, n = 0, i, len(code)
    while j < n:
        c = code[j]
        if c in "([":
            depth += 1
        elif c in ")]":
            if depth == 0:
                return j
            depth -= 1
        elif c in ";{}" and depth == 0:
            return j
        j += 1
    return n


def top_level_operators(code: str, lo: int, hi: int, at: int) -> list[str]:
    """The &&, || and ? at nesting depth 0 of code[lo:hi], in the comma-separated part that
    holds position `at`."""
    # Cut out the comma-separated part around `at` (top-level commas only).
    depth, seg_lo, seg_hi = 0, lo, hi
    for j in range(lo, hi):
        c = code[j]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            if j < at:
                seg_lo = j + 1
            else:
                seg_hi = j
                break
    found, depth, j = [], 0, seg_lo
    while j < seg_hi:
        c = code[j]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0:
            two = code[j:j + 2]
            if two == "&&":
                before = code[j - 1] if j > 0 else " "
                if not (before.isalnum() or before in "_>"):  # else: T&& / auto&& declarator
                    found.append("&&")
                j += 2
                continue
            if two == "||":
                found.append("||")
                j += 2
                continue
            if c == "?":
                found.append("?:")
        j += 1
    return found


def operand_findings(code: str):
    """Yields (position, operator) for every co_await inside an operand of &&, || or ?:.

    Looks at the co_await's own level of its statement, then, while that level is a bracketed
    group, at the level around the group: `(co_await x) && y` is caught one level out."""
    for m in COAWAIT.finditer(code):
        at, left, right = m.start(), m.start(), m.end()
        while True:
            lo = group_start(code, left)
            hi = group_end(code, right)
            ops = top_level_operators(code, lo + 1, hi, at)
            if ops:
                yield m.start(), ops[0]
                break
            if lo < 0 or code[lo] not in "([":
                break  # reached the statement's level: no operator around this co_await
            at, left, right = lo, lo, hi + 1


# Macros whose arguments end up in an if condition (GoogleTest) or a ?: operand (assert).
CONDITION_MACRO = re.compile(r"\b((?:EXPECT|ASSERT)_[A-Z0-9_]+|assert)\s*\(")


def macro_argument_spans(code: str):
    """Yields (start, end, macro) of the argument list of every condition macro call."""
    for m in CONDITION_MACRO.finditer(code):
        yield m.end(), closing_paren(code, m.end()), m.group(1)


def outside_braces(text: str) -> str:
    """text with every {...} region blanked: a co_await in a lambda body inside a condition or a
    macro's arguments belongs to that lambda's own coroutine, not to the condition."""
    out, depth = [], 0
    for c in text:
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        out.append(c if depth == 0 and c != "}" else " ")
    return "".join(out)


def findings_in(code: str, name: str):
    line_of = lambda pos: code.count("\n", 0, pos) + 1
    for start, end in condition_spans(code):
        if COAWAIT.search(outside_braces(code[start:end])):
            yield f"{name}:{line_of(start)}: co_await inside an if/switch condition"
    for start, end, macro in macro_argument_spans(code):
        if COAWAIT.search(outside_braces(code[start:end])):
            yield f"{name}:{line_of(start)}: co_await inside {macro}(...), which expands to a condition"
    for pos, op in operand_findings(code):
        yield f"{name}:{line_of(pos)}: co_await inside an operand of {op}"


def check_text(text: str, name: str = "<text>") -> list[str]:
    return list(findings_in(strip_literals_and_comments(text), name))


def source_files(paths):
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.suffix in SUFFIXES and f.is_file())
        else:
            yield p


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    findings = []
    for path in source_files(argv):
        findings += check_text(path.read_text(errors="replace"), str(path))
    for f in findings:
        print(f)
    print(f"coawait_lint: {len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
