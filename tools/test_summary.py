#!/usr/bin/env python3
"""Adds up the GoogleTest cases that meson ran in one or more build dirs.

Usage: test_summary.py BUILD_DIR [BUILD_DIR ...]
Prints one line per build dir and, last, the total as 'N passed, M failed, K skipped'.
A test binary that crashed or timed out before writing its report counts as one failure, and so
does a build dir with no test log at all (meson test stopped before running anything, e.g. a test
program that was not built).
"""
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def summarize(build_dir: Path) -> tuple[int, int, int]:
    logs = build_dir / "meson-logs"
    junit = logs / "testlog.junit.xml"
    passed = failed = skipped = 0
    reported = set()
    if junit.exists():
        for suite in ET.parse(junit).getroot().iter("testsuite"):
            name = suite.get("name", "")
            # Suites are "<project>.<binary>.<gtest suite>" (gtest), "<project>.<test>" (TAP: one
            # case per line) or "<project>" (exit-code tests); a binary-level entry has no cases.
            cases = suite.findall("testcase")
            if not cases:
                continue
            if "." in name:
                reported.add(name.split(".")[1])
            else:  # "<project>": plain exit-code tests, one case each, named after the test
                reported.update(case.get("name", "") for case in cases)
            for case in cases:
                if case.find("failure") is not None or case.find("error") is not None:
                    failed += 1
                elif case.find("skipped") is not None:
                    skipped += 1
                else:
                    passed += 1
    testlog = logs / "testlog.json"
    if not testlog.exists():
        return passed, failed + 1, skipped  # meson test ran nothing here
    for line in testlog.read_text().splitlines():
        entry = json.loads(line)
        ok = entry.get("result") in ("OK", "SKIP", "EXPECTEDFAIL")
        if not ok and entry.get("name") not in reported:
            failed += 1  # died before its report, or not a gtest binary
        elif not ok and entry.get("result") in ("TIMEOUT", "SIGNAL"):
            failed += 1  # its report is partial: the case it died in is missing
    return passed, failed, skipped


def main() -> int:
    total = [0, 0, 0]
    for arg in sys.argv[1:]:
        p, f, s = summarize(Path(arg))
        print(f"  {arg}: {p} passed, {f} failed, {s} skipped")
        total = [total[0] + p, total[1] + f, total[2] + s]
    print(f"{total[0]} passed, {total[1]} failed, {total[2]} skipped")
    return 0 if total[1] == 0 and total[0] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
