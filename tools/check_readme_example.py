#!/usr/bin/env python3
"""Checks that README.md shows each example app's code exactly as the app has it.

In each app of APPS, the code between '// [readme-example-begin]' and '// [readme-example-end]'
must appear verbatim in the README. Exit 0 if all do; else print, per app, the first differing
line and exit 1.
Usage: check_readme_example.py [REPO_ROOT]
"""
import sys
from pathlib import Path

APPS = ["apps/echo_server.cpp", "apps/http_server.cpp"]

root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
readme = (root / "README.md").read_text()
begin, end = "// [readme-example-begin]\n", "// [readme-example-end]\n"
failed = False
for app in APPS:
    source = (root / app).read_text()
    if begin not in source or end not in source:
        print(f"{app} lacks the readme-example markers")
        failed = True
        continue
    example = source.split(begin, 1)[1].split(end, 1)[0]
    if example in readme:
        print(f"README.md shows {app}'s example as the app has it")
        continue
    failed = True
    for number, line in enumerate(example.splitlines(), 1):
        if line not in readme:
            print(f"README.md differs from {app} at example line {number}: {line!r}")
            break
    else:
        print(f"README.md has every line of {app}'s example, but not in one piece")
sys.exit(1 if failed else 0)
