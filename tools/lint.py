#!/usr/bin/env python3
"""Project lint: rules a compiler warning does not cover. Exit 1 on any finding.

1. No co_await inside an if/switch condition, nor inside an operand of &&, || or ?:.
   GCC 12.2 (Debian 12's compiler) miscompiles some of these: the coroutine frame is laid out
   too small and the body silently misbehaves (GCC PR 106188, fixed in 12.3; reproduced here with
   ASan as a heap-buffer-overflow in the frame). Await into a local first, then test the local.
   The check lives in tools/coawait_lint.py, which also runs on anyone's sources.
2. Layering: runtime/ includes nothing from net/, http/, apps/ or bench/; net/ nothing from http/;
   http/parser/ includes nothing from runtime/ or net/ (it is sans-I/O). coil headers are included
   as "coil/<layer>/<file>.hpp", the path they are installed under.

Usage: lint.py [REPO_ROOT]
"""
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from coawait_lint import check_text  # noqa: E402  (rule 1; usable on its own on any sources)

SOURCE_DIRS = ["runtime", "net", "http", "apps", "examples", "bench", "tests"]
LAYERS = [("runtime", re.compile(r'#include\s*[<"](coil/(net|http)|apps|bench)/')),
          ("net", re.compile(r'#include\s*[<"](coil/http|apps|bench)/')),
          ("http/parser", re.compile(r'#include\s*[<"]coil/(runtime|net)/'))]
# coil's headers are included by their installed path, "coil/<layer>/...", never "runtime/...".
# <net/...> in angle brackets is the C library's (e.g. <net/if.h> for if_nametoindex), not coil's.
OLD_STYLE_INCLUDE = re.compile(r'#include\s*("(runtime|net|http)/|<(runtime|http)/)')


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    findings = []
    for folder in SOURCE_DIRS:
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in (".cpp", ".hpp"):
                continue
            text = path.read_text()
            rel = path.relative_to(root)
            findings += check_text(text, str(rel))
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
