#!/usr/bin/env python3
"""Checks that './dev bench [http|arch|offload] --help' prints the harness's help at once, without
installing, configuring or building anything (regression: the docs send users to
'./dev bench arch --help' for the options, and it ran apt-get's check, meson and a release
build with ninja -j$(nproc) first). Fake apt-get, meson and ninja ahead on PATH record any call.

Usage: dev_help_test.py ROOT   (output is TAP)
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "support"))
from tap import Tap  # noqa: E402

FAKE = "#!/bin/sh\necho \"$0 $*\" >> {log}\nexit 1\n"


def help_without_building(kind: list[str], harness: str):
    def check() -> None:
        with tempfile.TemporaryDirectory() as d:
            log = Path(d) / "calls.log"
            for tool in ("apt-get", "meson", "ninja", "sudo"):
                f = Path(d) / tool
                f.write_text(FAKE.format(log=log))
                f.chmod(0o755)
            env = dict(os.environ, PATH=f"{d}:{os.environ.get('PATH', '')}")
            r = subprocess.run([str(ROOT / "dev"), "bench", *kind, "--help"], cwd=ROOT, env=env,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=60)
            calls = log.read_text() if log.exists() else ""
            assert not calls, f"ran before the help: {calls!r}"
            assert r.returncode == 0, (r.returncode, r.stderr[-300:])
            assert f"usage: {harness}" in r.stdout, r.stdout[:300]
    return check


def main() -> int:
    t = Tap()
    for kind, harness in (([], "echo_bench.py"), (["http"], "http_bench.py"),
                          (["arch"], "arch_bench.py"), (["offload"], "offload_bench.py")):
        name = " ".join(["./dev bench", *kind, "--help"])
        t.check(f"{name}: the help, nothing installed or built", help_without_building(kind, harness))
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
