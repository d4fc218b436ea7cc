#!/usr/bin/env python3
"""Checks that README.md shows the echo server exactly as apps/echo_server.cpp has it.

The code between '// [readme-example-begin]' and '// [readme-example-end]' in the app must appear
verbatim in the README. Exit 0 if so; else print the first differing line and exit 1.
Usage: check_readme_example.py [REPO_ROOT]
"""
import sys
from pathlib import Path

root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
source = (root / "apps/echo_server.cpp").read_text()
readme = (root / "README.md").read_text()
begin, end = "// [readme-example-begin]\n", "// [readme-example-end]\n"
if begin not in source or end not in source:
    print("apps/echo_server.cpp lacks the readme-example markers")
    sys.exit(1)
example = source.split(begin, 1)[1].split(end, 1)[0]
if example in readme:
    print("README.md shows the echo server as apps/echo_server.cpp has it")
    sys.exit(0)
for number, line in enumerate(example.splitlines(), 1):
    if line not in readme:
        print(f"README.md differs from apps/echo_server.cpp at example line {number}: {line!r}")
        break
else:
    print("README.md has every line of the example, but not in one piece")
sys.exit(1)
