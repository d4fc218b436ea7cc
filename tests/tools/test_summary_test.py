#!/usr/bin/env python3
"""Tests tools/test_summary.py, the line `./dev test` ends with.
Regression: a build dir whose `meson test` stopped before running anything (a test program that
was not built) kept the previous run's logs and was counted as passing; now its logs are removed
before each run (./dev run_suite) and a dir without a test log counts as a failure.
Usage: test_summary_test.py REPO_ROOT (exit 0: all pass)."""
import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(sys.argv.pop(1) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2])
SUMMARY = ROOT / "tools" / "test_summary.py"

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="coil.io_test.IoTest" tests="2">
<testcase name="A"/><testcase name="B">{fail}</testcase>
</testsuite></testsuites>
"""


def summarize(*dirs: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SUMMARY), *map(str, dirs)], capture_output=True,
                          text=True, timeout=60)


def write_logs(build: Path, result: str, fail: str = "") -> None:
    logs = build / "meson-logs"
    logs.mkdir(parents=True)
    (logs / "testlog.junit.xml").write_text(JUNIT.format(fail=fail))
    (logs / "testlog.json").write_text(json.dumps({"name": "io_test", "result": result}) + "\n")


class TestSummary(unittest.TestCase):
    def test_a_dir_without_test_logs_is_a_failure(self):
        with tempfile.TemporaryDirectory() as tmp:
            r = summarize(Path(tmp))
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertEqual(r.stdout.splitlines()[-1], "0 passed, 1 failed, 0 skipped")

    def test_passing_cases_are_counted(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_logs(Path(tmp), "OK")
            r = summarize(Path(tmp))
            self.assertEqual(r.returncode, 0, r.stdout)
            self.assertEqual(r.stdout.splitlines()[-1], "2 passed, 0 failed, 0 skipped")

    def test_a_failing_case_is_counted_once(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_logs(Path(tmp), "FAIL", fail='<failure message="x"/>')
            r = summarize(Path(tmp))
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertEqual(r.stdout.splitlines()[-1], "1 passed, 1 failed, 0 skipped")

    def test_one_empty_dir_fails_the_total_of_several(self):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            write_logs(Path(a), "OK")
            r = summarize(Path(a), Path(b))
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertEqual(r.stdout.splitlines()[-1], "2 passed, 1 failed, 0 skipped")


if __name__ == "__main__":
    unittest.main()
