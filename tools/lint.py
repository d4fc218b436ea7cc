#!/usr/bin/env python3
"""Project lint: rules a compiler warning does not cover. Exit 1 on any finding.

1. No co_await inside an if/switch condition, nor as an operand of &&, || or ?:.
   GCC 12.2 (Debian 12's compiler) miscompiles some of these: the coroutine frame is laid out
   too small and the body silently misbehaves (GCC PR 106188, fixed in 12.3; reproduced here with
   ASan as a heap-buffer-overflow in the frame). Await into a local first, then test the local.
2. Layering: runtime/ includes nothing from net/, http/, apps/ or bench/; net/ nothing from http/;
   http/parser/ includes nothing from runtime/ or net/ (it is sans-I/O). coil headers are included
   as "coil/<layer>/<file>.hpp", the path they are installed under.

Usage: lint.py [REPO_ROOT]
"""
import re
import sys
from pathlib import Path

SOURCE_DIRS = ["runtime", "net", "http", "apps", "bench", "tests"]
LAYERS = [("runtime", re.compile(r'#include\s*[<"](coil/(net|http)|apps|bench)/')),
          ("net", re.compile(r'#include\s*[<"](coil/http|apps|bench)/')),
          ("http/parser", re.compile(r'#include\s*[<"]coil/(runtime|net)/'))]
# coil's headers are included by their installed path, "coil/<layer>/...", never "runtime/...".
# <net/...> in angle brackets is the C library's (e.g. <net/if.h> for if_nametoindex), not coil's.
OLD_STYLE_INCLUDE = re.compile(r'#include\s*("(runtime|net|http)/|<(runtime|http)/)')


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


def condition_spans(code: str):
    """Yields (start, end) of the parenthesised condition of every if/switch."""
    for m in re.finditer(r"\b(if|switch)\s*(constexpr\s*)?\(", code):
        depth, j = 1, m.end()
        while j < len(code) and depth:
            depth += {"(": 1, ")": -1}.get(code[j], 0)
            j += 1
        yield m.end(), j - 1


def coawait_findings(path: Path, code: str):
    line_of = lambda pos: code.count("\n", 0, pos) + 1
    for start, end in condition_spans(code):
        if re.search(r"(?<!operator )\bco_await\b", code[start:end]):
            yield f"{path}:{line_of(start)}: co_await inside an if/switch condition"
    for m in re.finditer(r"(&&|\|\||\?)\s*co_await\b", code):
        yield f"{path}:{line_of(m.start())}: co_await as an operand of {m.group(1)}"


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    findings = []
    for folder in SOURCE_DIRS:
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in (".cpp", ".hpp"):
                continue
            text = path.read_text()
            rel = path.relative_to(root)
            findings += coawait_findings(rel, strip_literals_and_comments(text))
            for number, line in enumerate(text.splitlines(), 1):
                if OLD_STYLE_INCLUDE.search(line):
                    findings.append(f"{rel}:{number}: include coil headers as \"coil/...\"")
            for layer, include in LAYERS:
                if str(rel).startswith(layer + "/"):
                    for number, line in enumerate(text.splitlines(), 1):
                        if include.search(line):
                            findings.append(f"{rel}:{number}: {layer}/ must not include a higher layer")
    for f in findings:
        print(f)
    print(f"lint: {len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
