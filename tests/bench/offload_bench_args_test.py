#!/usr/bin/env python3
"""Checks bench/offload_bench.py's command line without running a benchmark (no wrk, no server,
no load): --help works, bad values are refused with exit status 2 before anything starts, a
missing wrk or http_server is a setup error (2), and the digest the harness expects from
GET /cpu?kib=N is the one apps/cpu_work.hpp defines.

Usage: offload_bench_args_test.py   (output is TAP)
"""
import subprocess
import sys
import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BENCH = ROOT / "bench" / "offload_bench.py"
sys.path.insert(0, str(ROOT / "tests" / "support"))
sys.path.insert(0, str(ROOT / "bench"))
from tap import Tap  # noqa: E402


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCH), *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)


def help_works() -> None:
    r = run("--help")
    assert r.returncode == 0, (r.returncode, r.stderr)
    for word in ("--quick", "--kib", "--load-connections", "--modes", "inline,offload,offload-nice,idle"):
        assert word in r.stdout, f"{word} missing from --help"


def refused(*args: str, says: str):
    def check() -> None:
        r = run(*args)
        assert r.returncode == 2, (r.returncode, r.stdout[-300:], r.stderr[-300:])
        assert "error:" in r.stderr and says in r.stderr, r.stderr[-300:]
        assert not r.stdout.strip(), "refused, yet printed a table"
    return check


def setup_error(*args: str, says: str):
    def check() -> None:
        r = run(*args)
        assert r.returncode == 2, (r.returncode, r.stderr[-300:])
        assert says in r.stderr, r.stderr[-300:]
    return check


def digest_matches_the_generated_data() -> None:
    import offload_bench
    for kib in (1, 3, 64):
        data = bytes((i * 131 + 7) % 256 for i in range(kib * 1024))
        assert offload_bench.expected_digest(kib) == hashlib.sha256(data).hexdigest(), kib


def main() -> int:
    t = Tap()
    t.check("help lists the options", help_works)
    for args, says in ((("--kib", "0"), "--kib"), (("--kib", "16385"), "16384"),
                       (("--kib", "x"), "--kib"), (("--rounds", "0"), "--rounds"),
                       (("--duration", "-1"), "--duration"), (("--warmup", "-1"), "--warmup"),
                       (("--load-connections", "0"), "--load-connections"),
                       (("--modes", "inline,fast"), "--modes"),
                       (("--modes", "inline,inline"), "--modes"), (("--modes", ","), "--modes"),
                       (("--pool-nice", "20"), "--pool-nice"), (("--pool-nice", "0"), "--pool-nice"),
                       (("--backend", "kqueue"), "--backend")):
        t.check(f"refuses {' '.join(args)}", refused(*args, says=says))
    t.check("missing wrk is a setup error",
            setup_error("--wrk", "/nonexistent/wrk", says="wrk not found"))
    t.check("missing http_server is a setup error",
            setup_error("--wrk", sys.executable, "--build", "/nonexistent/build",
                        says="http_server not found"))
    t.check("expected /cpu digest matches apps/cpu_work.hpp's data",
            digest_matches_the_generated_data)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
