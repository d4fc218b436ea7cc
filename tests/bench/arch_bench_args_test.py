#!/usr/bin/env python3
"""Checks bench/arch_bench.py's command line and server commands without running a benchmark
(no wrk, no server): --rounds-at picks the points that get every round, the 2-thread coil row is
started with --threads 2 on both pinned CPUs (it cannot share one CPU with itself), and bad
values are refused with exit status 2.

Usage: arch_bench_args_test.py   (output is TAP)
"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BENCH = ROOT / "bench" / "arch_bench.py"
sys.path.insert(0, str(ROOT / "tests" / "support"))
sys.path.insert(0, str(ROOT / "bench"))
from tap import Tap  # noqa: E402
import arch_bench  # noqa: E402


def refused(*args: str, says: str):
    def check() -> None:
        r = subprocess.run([sys.executable, str(BENCH), *args], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, (r.returncode, r.stderr[-300:])
        assert "error:" in r.stderr and says in r.stderr, r.stderr[-300:]
    return check


def rounds_at_defaults_to_the_quoted_points() -> None:
    cfg = arch_bench.parse_args([])
    assert cfg.rounds == 3 and cfg.rounds_at == [100, 1000, 10000], (cfg.rounds, cfg.rounds_at)
    assert arch_bench.parse_args(["--rounds-at", "all"]).rounds_at is None
    assert arch_bench.parse_args(["--rounds-at", "20,50"]).rounds_at == [20, 50]


def two_thread_row_runs_two_loops_on_both_cpus() -> None:
    cfg = arch_bench.parse_args(["--servers", "coil-uring-2t"])
    build = Path("/b")
    assert arch_bench.server_argv("coil-uring-2t", cfg, build) == [
        "/b/apps/http_server", "--port", "0", "--backend", "io_uring", "--threads", "2"]
    assert arch_bench.server_argv("coil-uring-2t", cfg, build, "echo")[0] == "/b/apps/echo_server"
    assert "--threads" not in arch_bench.server_argv("coil-uring", cfg, build)
    assert arch_bench.server_argv("coil-epoll", cfg, build)[4] == "epoll"

    class Pin:  # the two fields and the prefix() of echo_bench.Pinning that the start uses
        taskset, server_cpu, load_cpu = "taskset", 0, 1

        def prefix(self, cpu):
            return ["taskset", "-c", str(cpu)]
    assert arch_bench.server_prefix("coil-uring-2t", Pin()) == ["taskset", "-c", "0,1"]
    assert arch_bench.server_prefix("coil-uring", Pin()) == ["taskset", "-c", "0"]


def main() -> int:
    t = Tap()
    t.check("--rounds-at defaults to 100,1000,10000; 'all' and a list work",
            rounds_at_defaults_to_the_quoted_points)
    t.check("coil-uring-2t: --threads 2, pinned to the server and load CPUs",
            two_thread_row_runs_two_loops_on_both_cpus)
    for args, says in ((("--rounds-at", "x"), "--rounds-at"), (("--rounds", "0"), "--rounds"),
                       (("--servers", "coil-uring-3t"), "unknown server"),
                       (("--duration", "2", "--timeout", "2"), "--duration")):
        t.check(f"refuses {' '.join(args)}", refused(*args, says=says))
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
