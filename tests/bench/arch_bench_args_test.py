#!/usr/bin/env python3
"""Checks bench/arch_bench.py's command line and its stop by signal without running a benchmark
(no real server, no wrk, no load): --help documents every option, bad connection counts are
refused with exit status 2 before anything starts, a run whose servers are not built says so and
exits 2, a missing matplotlib is reported (not silently plot-less), SIGTERM during a point stops
the harness (exit 130, results written) and the server of that point (regression: SIGTERM used
to end the harness at once and leave the server running), and SIGTERM while the plots are drawn
still leaves table.md and results.json (exit 130).

The SIGTERM cases use a fake build dir: bench/baselines/baseline_epoll is a small Python script
that listens on 127.0.0.1 (port 0), prints its 'listening on' line and records its PID; --wrk is
a script that records its PID and sleeps, or prints a wrk report line at once. Every process
started is stopped by its PID.

Usage: arch_bench_args_test.py   (output is TAP)
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BENCH = ROOT / "bench" / "arch_bench.py"
sys.path.insert(0, str(ROOT / "tests" / "support"))
from tap import Tap  # noqa: E402

FAKE_SERVER = """#!{py}
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
with open({pids!r}, "a") as f:
    f.write(f"{{os.getpid()}}\\n")
print(f"listening on 127.0.0.1:{{s.getsockname()[1]}}", flush=True)
deadline = time.monotonic() + 60  # bounded even if nobody stops it
while time.monotonic() < deadline:
    time.sleep(0.1)
"""

FAKE_WRK = """#!{py}
import os, time
with open({pids!r}, "a") as f:
    f.write(f"{{os.getpid()}}\\n")
time.sleep(60)
"""


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCH), *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not reaped yet by its parent) counts as gone.
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def pids_in(path: Path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def help_documents_every_option() -> None:
    r = run("--help")
    assert r.returncode == 0, (r.returncode, r.stderr)
    # Every option has a help text: the line after the option (or the option's own line) says
    # more than the option's metavar.
    for opt in ("--server-cpu", "--load-cpu", "--wrk", "--out"):
        at = r.stdout.index("  " + opt)
        block = r.stdout[at:at + 200].split("\n  -", 1)[0]
        words = block.replace(opt, "").replace(opt.upper().lstrip("-").replace("-", "_"), "")
        assert len(words.split()) >= 3, f"{opt} has no help text: {block!r}"


def refused(*args: str, says: str):
    def check() -> None:
        r = run(*args)
        assert r.returncode == 2, (r.returncode, r.stdout[-300:], r.stderr[-300:])
        assert "error:" in r.stderr and says in r.stderr, r.stderr[-300:]
        assert "Traceback" not in r.stderr, r.stderr[-500:]
        assert not r.stdout.strip(), "refused, yet printed a table"
    return check


def not_built_says_so() -> None:
    with tempfile.TemporaryDirectory() as d:
        r = run("--build", str(Path(d) / "none"), "--servers", "baseline-epoll",
                "--echo-connections", "none", "--out", str(Path(d) / "out"))
        assert r.returncode == 2, (r.returncode, r.stderr[-300:])
        assert "not built" in r.stderr and "none of the servers" in r.stderr, r.stderr[-300:]


def sigterm_stops_the_server_of_the_point() -> None:
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        server_pids, wrk_pids = d / "server.pids", d / "wrk.pids"
        exe = d / "build" / "bench" / "baselines" / "baseline_epoll"
        exe.parent.mkdir(parents=True)
        exe.write_text(FAKE_SERVER.format(py=sys.executable, pids=str(server_pids)))
        exe.chmod(0o755)
        wrk = d / "fake_wrk"
        wrk.write_text(FAKE_WRK.format(py=sys.executable, pids=str(wrk_pids)))
        wrk.chmod(0o755)
        out = d / "out"
        harness = subprocess.Popen(
            [sys.executable, str(BENCH), "--build", str(d / "build"), "--servers",
             "baseline-epoll", "--modes", "keepalive", "--connections", "1", "--rounds", "1",
             "--duration", "20", "--timeout", "1", "--echo-connections", "none",
             "--wrk", str(wrk), "--out", str(out)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started: list[int] = []
        try:
            deadline = time.monotonic() + 30
            while not pids_in(wrk_pids) and time.monotonic() < deadline and harness.poll() is None:
                time.sleep(0.1)
            started = pids_in(server_pids) + pids_in(wrk_pids)
            assert pids_in(wrk_pids), ("the fake wrk never started", harness.poll())
            harness.send_signal(signal.SIGTERM)
            try:
                _, err = harness.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                raise AssertionError("the harness did not exit within 30 s of SIGTERM")
            assert harness.returncode == 130, (harness.returncode, err[-500:])
            time.sleep(0.2)
            left = [p for p in pids_in(server_pids) + pids_in(wrk_pids) if alive(p)]
            assert not left, f"still running after the harness ended: {left}"
            res = json.loads((out / "results.json").read_text())
            assert res["interrupted"] is True, res.get("interrupted")
        finally:
            if harness.poll() is None:
                harness.kill()
                harness.wait(timeout=10)
            for p in set(started + pids_in(server_pids) + pids_in(wrk_pids)):
                if alive(p):
                    os.kill(p, signal.SIGKILL)


def missing_matplotlib_is_reported() -> None:
    # Regression: without matplotlib (e.g. a pyenv python3 ahead of /usr/bin/python3 on PATH) the
    # run wrote no plot and said nothing. plots.py imports matplotlib at the top, so a None entry
    # in sys.modules makes `from plots import ...` fail as a missing matplotlib does.
    code = ("import sys, argparse; sys.path.insert(0, sys.argv[1]); sys.modules['plots'] = None\n"
            "import arch_bench\n"
            "cfg = argparse.Namespace(modes=['keepalive'], servers=['coil-uring'], connections=[1])\n"
            "print(arch_bench.write_plots(__import__('pathlib').Path(sys.argv[2]), [], cfg))\n")
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([sys.executable, "-c", code, str(ROOT / "bench"), d],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (r.returncode, r.stderr[-500:])
        assert r.stdout.strip() == "[]", r.stdout
        assert "plots skipped" in r.stderr and "python3-matplotlib" in r.stderr, r.stderr


FAKE_WRK_REPORT = """#!{py}
print('{{"requests": 100, "duration_us": 1000000, "p50_us": 1000, "p99_us": 2000}}')
"""

# arch_bench with a plots module whose multi_plot sends SIGTERM to the harness itself: a SIGTERM
# that comes once every point is measured, while the plots are drawn.
SIGTERM_WHILE_PLOTTING = (
    "import os, signal, sys, types\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "m = types.ModuleType('plots')\n"
    "def multi_plot(*a, **k):\n"
    "    os.kill(os.getpid(), signal.SIGTERM)\n"
    "    return []\n"
    "m.multi_plot = multi_plot\n"
    "sys.modules['plots'] = m\n"
    "import arch_bench\n"
    "sys.exit(arch_bench.main(sys.argv[2:]))\n")


def sigterm_while_plotting_still_writes_results() -> None:
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        server_pids = d / "server.pids"
        exe = d / "build" / "bench" / "baselines" / "baseline_epoll"
        exe.parent.mkdir(parents=True)
        exe.write_text(FAKE_SERVER.format(py=sys.executable, pids=str(server_pids)))
        exe.chmod(0o755)
        echo_load = d / "build" / "bench" / "echo_load"  # present (never run: echo is off)
        echo_load.write_text("#!/bin/sh\nexit 1\n")
        echo_load.chmod(0o755)
        wrk = d / "fake_wrk"
        wrk.write_text(FAKE_WRK_REPORT.format(py=sys.executable))
        wrk.chmod(0o755)
        out = d / "out"
        try:
            r = subprocess.run(
                [sys.executable, "-c", SIGTERM_WHILE_PLOTTING, str(ROOT / "bench"),
                 "--build", str(d / "build"), "--servers", "baseline-epoll", "--modes",
                 "keepalive", "--connections", "1", "--rounds", "1", "--duration", "2",
                 "--timeout", "1", "--echo-connections", "none", "--wrk", str(wrk),
                 "--out", str(out)],
                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
            assert r.returncode == 130, (r.returncode, r.stderr[-800:])
            assert "Traceback" not in r.stderr, r.stderr[-800:]
            res = json.loads((out / "results.json").read_text())
            assert [x["ok"] for x in res["runs"]] == [True], res["runs"]
            # --echo-connections none: no echo server in the settings either (they listed every
            # echo-capable server, as if the echo table had run).
            assert res["settings"]["echo_servers"] == [], res["settings"]["echo_servers"]
            assert (out / "table.md").exists()
        finally:
            for p in pids_in(server_pids):
                if alive(p):
                    os.kill(p, signal.SIGKILL)


def interrupted_start_stops_the_server() -> None:
    # Regression: a KeyboardInterrupt (Ctrl-C, or SIGTERM through _sigterm) while start() waited
    # for the 'listening on' line left the server running (only StartError stopped it).
    sys.path.insert(0, str(ROOT / "bench"))
    import arch_bench
    import echo_bench
    started: list = []
    real_wait = echo_bench.Server.wait_listening

    def interrupted(self, timeout):
        started.append(self)
        real_wait(self, timeout)
        raise KeyboardInterrupt

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        pids = d / "server.pids"
        exe = d / "build" / "bench" / "baselines" / "baseline_epoll"
        exe.parent.mkdir(parents=True)
        exe.write_text(FAKE_SERVER.format(py=sys.executable, pids=str(pids)))
        exe.chmod(0o755)
        cfg = arch_bench.parse_args(["--servers", "baseline-epoll"])
        pin = echo_bench.Pinning(-1, -1)  # not pinned
        echo_bench.Server.wait_listening = interrupted
        try:
            try:
                arch_bench.start("baseline-epoll", cfg, d / "build", pin, d, 1)
                raise AssertionError("start returned")
            except KeyboardInterrupt:
                pass
        finally:
            echo_bench.Server.wait_listening = real_wait
            left = [p for p in pids_in(pids) if alive(p)]
            for p in left:
                os.kill(p, signal.SIGKILL)
        assert started and pids_in(pids), "the server was never started"
        assert not left, f"server {left} still running after the interrupted start"


def _arch():
    sys.path.insert(0, str(ROOT / "bench"))
    import arch_bench
    return arch_bench


def rounds_at_defaults_to_the_quoted_points() -> None:
    cfg = _arch().parse_args([])
    assert cfg.rounds == 3 and cfg.rounds_at == [100, 1000, 10000], (cfg.rounds, cfg.rounds_at)
    assert _arch().parse_args(["--rounds-at", "all"]).rounds_at is None
    assert _arch().parse_args(["--rounds-at", "20,50"]).rounds_at == [20, 50]


def two_thread_row_runs_two_loops_on_both_cpus() -> None:
    cfg = _arch().parse_args(["--servers", "coil-uring-2t"])
    build = Path("/b")
    assert _arch().server_argv("coil-uring-2t", cfg, build) == [
        "/b/apps/http_server", "--port", "0", "--backend", "io_uring", "--threads", "2"]
    assert _arch().server_argv("coil-uring-2t", cfg, build, "echo")[0] == "/b/apps/echo_server"
    assert "--threads" not in _arch().server_argv("coil-uring", cfg, build)
    assert _arch().server_argv("coil-epoll", cfg, build)[4] == "epoll"

    class Pin:  # the two fields and the prefix() of echo_bench.Pinning that the start uses
        taskset, server_cpu, load_cpu = "taskset", 0, 1

        def prefix(self, cpu):
            return ["taskset", "-c", str(cpu)]
    assert _arch().server_prefix("coil-uring-2t", Pin()) == ["taskset", "-c", "0,1"]
    assert _arch().server_prefix("coil-uring", Pin()) == ["taskset", "-c", "0"]


def main() -> int:
    t = Tap()
    t.check("--help documents every option", help_documents_every_option)
    t.check("--rounds-at defaults to 100,1000,10000; 'all' and a list work",
            rounds_at_defaults_to_the_quoted_points)
    t.check("coil-uring-2t: --threads 2, pinned to the server and load CPUs",
            two_thread_row_runs_two_loops_on_both_cpus)
    for args, says in ((("--connections", "0"), "--connections: '0'"),
                       (("--connections", "100,abc"), "--connections: 'abc'"),
                       (("--connections", ","), "no connection count"),
                       (("--echo-connections", "-5"), "--echo-connections: '-5'"),
                       (("--rounds-at", "x"), "--rounds-at"), (("--rounds", "0"), "--rounds"),
                       (("--servers", "coil-uring-3t"), "unknown server")):
        t.check(f"{' '.join(args)} is refused before anything starts", refused(*args, says=says))
    t.check("servers that are not built: the run says so and exits 2", not_built_says_so)
    t.check("no matplotlib: the run says why there are no plots", missing_matplotlib_is_reported)
    t.check("SIGTERM stops the harness and the server of the current point",
            sigterm_stops_the_server_of_the_point)
    t.check("an interrupted start stops the server", interrupted_start_stops_the_server)
    t.check("SIGTERM while plotting: results still written, exit 130",
            sigterm_while_plotting_still_writes_results)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
