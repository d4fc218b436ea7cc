#!/usr/bin/env python3
"""echo_bench.py - echo-server benchmark ladder for coil (Python 3 standard library; the plots
need matplotlib, Debian's python3-matplotlib, which ./dev setup installs).

Runs every server (coil on io_uring, coil on epoll, the hand-written epoll and io_uring
baselines, and any extra server given with --server-cmd) against
bench/echo_load over a ladder of points (connections x message size at depth 1, plus pipelined
points at depth 16), for several rounds, interleaving the servers inside each point so they are
measured side by side under the same machine conditions. Each run starts the server fresh, pinned
to --server-cpu with taskset, and runs the load generator pinned to --load-cpu.

Outputs (in --out, default results/<UTC timestamp>):
  results.json     all raw runs, per-(server, point) medians, machine info and settings
  runs.jsonl       the raw runs, appended as they finish (survives an interrupted ladder)
  table.md         the markdown table that is also printed to stdout
  msgs_per_s.png   throughput vs connections, one panel per (size, depth), one line per server
  cpu_per_msg.png  server CPU microseconds per message, same layout
  p99_us.png       p99 latency (log y), same layout
  summary.png      ratios to epoll-baseline (throughput solid, CPU per message dashed)
  summary_uring.png  coil-uring (and coil-uring-* variants) / uring-baseline, the same way
  (each plot also as .svg, the same figure as a vector file)
  logs/            server stderr + load generator stderr for every failed run

Exit status: 0 if every run succeeded, 1 if some runs failed or a requested server could not be
started at all (results are still written), 2 on a setup error (bad arguments, load generator
missing, no usable server), 130 if interrupted (partial results are written).

Program paths can be overridden for testing:
  --server-cmd NAME=CMD   full server command line (shlex-split, used as is), NAME one of the
                          server names, or a new name: an extra server, run after the others
                          (e.g. coil-uring-plain='build/release/apps/echo_server --port 0
                          --backend io_uring --recv plain'); with --servers, list it there too
  --load-cmd CMD          load generator command prefix; the harness appends --host/--port/...
The environment variables COIL_BENCH_LOAD_CMD and COIL_BENCH_SERVER_CMD_<NAME> (NAME upper-cased,
'-' -> '_', e.g. COIL_BENCH_SERVER_CMD_COIL_URING) do the same; the flags win.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for plots.py, imported when plotting

SERVERS = ["coil-uring", "coil-epoll", "epoll-baseline", "uring-baseline"]
BASELINE = "epoll-baseline"
URING_BASELINE = "uring-baseline"  # the reference for coil on io_uring (servers named coil-uring*)
PIPELINE_SIZE = 64
SERVER_START_TIMEOUT_S = 15.0
SERVER_STOP_TIMEOUT_S = 5.0
LISTEN_RE = re.compile(r"listening on (?:\[([0-9A-Fa-f:.%a-zA-Z0-9]+)\]|([0-9.]+)):(\d+)")
STYLES = {
    "coil-uring": {"color": "#1f77b4"},
    "coil-epoll": {"color": "#2ca02c"},
    "epoll-baseline": {"color": "#d62728"},
    "uring-baseline": {"color": "#9467bd"},
}


def ratio_pairs(servers: list[str]) -> list[tuple[str, str]]:
    """(server, reference) pairs the table and the summary plot show: every other server against
    epoll-baseline, and coil on io_uring (coil-uring and variants such as coil-uring-plain)
    against uring-baseline."""
    pairs: list[tuple[str, str]] = []
    if BASELINE in servers:
        pairs += [(s, BASELINE) for s in servers if s != BASELINE]
    if URING_BASELINE in servers:
        pairs += [(s, URING_BASELINE) for s in servers if s.startswith("coil-uring")]
    return pairs


def short_name(s: str) -> str:
    return {BASELINE: "base", URING_BASELINE: "uring-base"}.get(s, s.replace("coil-", ""))


def eprint(*a: Any) -> None:
    print(*a, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------
# Arguments
# ------------------------------------------------------------------------------------------------

def int_list(s: str) -> list[int]:
    try:
        vals = [int(x) for x in s.replace(" ", "").split(",") if x]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of integers: {s!r}")
    if any(v <= 0 for v in vals):
        raise argparse.ArgumentTypeError(f"values must be positive: {s!r}")
    return vals


def name_list(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="echo_bench.py",
        description="Echo-server benchmark ladder: coil (io_uring, epoll) vs hand-written epoll "
                    "and io_uring baselines. Prints a markdown table; writes results.json, "
                    "table.md and SVG plots.",
        epilog="Example: ./dev bench --quick --servers coil-uring,epoll-baseline")
    p.add_argument("--build", default="build/release", metavar="DIR",
                   help="meson build directory holding apps/echo_server, bench/echo_load and "
                        "bench/baselines/baseline_{epoll,uring} (default: build/release, relative to the "
                        "current directory, else to the repository root)")
    p.add_argument("--quick", action="store_true",
                   help="short ladder: 1 round, 1 s runs, 0.3 s warmup, connections 1,100,1000, "
                        "size 64, pipelined at 100 connections")
    p.add_argument("--rounds", type=int, default=None, metavar="N", help="rounds (default 3; quick: 1)")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="measured seconds per run (default 3; quick: 1)")
    p.add_argument("--warmup", type=float, default=None, metavar="S",
                   help="warmup seconds per run (default 1; quick: 0.3)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output directory (default results/<UTC YYYYmmdd-HHMMSS>)")
    p.add_argument("--servers", type=name_list, default=None, metavar="LIST",
                   help="comma list, subset of " + ",".join(SERVERS) + " and the extra servers "
                        "named with --server-cmd (default: all of them)")
    p.add_argument("--connections", type=int_list, default=None, metavar="LIST",
                   help="comma list (default 1,10,100,1000,10000; quick: 1,100,1000)")
    p.add_argument("--sizes", type=int_list, default=None, metavar="LIST",
                   help="message sizes in bytes, comma list (default 64,4096; quick: 64)")
    p.add_argument("--pipelined-connections", type=lambda s: int_list(s) if s.strip() else [],
                   default=None, metavar="LIST",
                   help=f"connection counts for the pipelined points (size {PIPELINE_SIZE}); "
                        "'' disables them (default 100,1000; quick: 100)")
    p.add_argument("--pipeline-depth", type=int, default=16, metavar="K",
                   help="messages in flight per connection at the pipelined points (default: 16)")
    p.add_argument("--server-cpu", type=int, default=0, metavar="CPU",
                   help="CPU the server is pinned to with taskset -c (default: 0); "
                        "negative: do not pin")
    p.add_argument("--load-cpu", type=int, default=1, metavar="CPU",
                   help="CPU the load generator is pinned to (default: 1); negative: do not pin")
    t = p.add_argument_group("overrides (mainly for testing the harness)")
    t.add_argument("--server-cmd", action="append", default=[], metavar="NAME=CMD",
                   help="replace the full command line of server NAME (shlex-split, used as "
                        "is; repeatable); a NAME that is not a built-in server adds an extra "
                        "server (e.g. coil-uring-plain=...; coil-uring* names are also compared "
                        "with uring-baseline). Env: COIL_BENCH_SERVER_CMD_<NAME>, e.g. "
                        "COIL_BENCH_SERVER_CMD_COIL_URING")
    t.add_argument("--load-cmd", default=None, metavar="CMD",
                   help="replace the load generator command prefix; the harness appends "
                        "--host --port --connections --size --depth --duration --warmup "
                        "--stat-pid --json. Env: COIL_BENCH_LOAD_CMD")
    a = p.parse_args(argv)

    q = a.quick
    if a.rounds is None:
        a.rounds = 1 if q else 3
    if a.duration is None:
        a.duration = 1.0 if q else 3.0
    if a.warmup is None:
        a.warmup = 0.3 if q else 1.0
    if a.connections is None:
        a.connections = [1, 100, 1000] if q else [1, 10, 100, 1000, 10000]
    if a.sizes is None:
        a.sizes = [64] if q else [64, 4096]
    if a.pipelined_connections is None:
        a.pipelined_connections = [100] if q else [100, 1000]
    if a.rounds < 1:
        p.error("--rounds must be >= 1")
    if a.duration <= 0 or a.warmup < 0:
        p.error("--duration must be > 0 and --warmup >= 0")
    if a.pipeline_depth < 1:
        p.error("--pipeline-depth must be >= 1")

    a.server_overrides = {}
    for k, v in os.environ.items():
        if k.startswith("COIL_BENCH_SERVER_CMD_") and v.strip():
            name = k[len("COIL_BENCH_SERVER_CMD_"):].lower().replace("_", "-")
            a.server_overrides[name] = shlex.split(v)
    for item in a.server_cmd:
        name, sep, cmd = item.partition("=")
        if not sep or not name or not cmd.strip():
            p.error(f"--server-cmd expects NAME=CMD, got {item!r}")
        a.server_overrides[name.strip()] = shlex.split(cmd)
    if a.load_cmd is None and os.environ.get("COIL_BENCH_LOAD_CMD", "").strip():
        a.load_cmd = os.environ["COIL_BENCH_LOAD_CMD"]

    if a.servers is None:  # every built-in server, then the extra ones
        a.servers = list(SERVERS) + [n for n in a.server_overrides if n not in SERVERS]
    known = set(SERVERS) | set(a.server_overrides)
    bad = [s for s in a.servers if s not in known]
    if bad:
        p.error(f"unknown server(s) {','.join(bad)}; choose from {','.join(SERVERS)}")
    if not a.servers:
        p.error("--servers is empty")
    if len(set(a.servers)) != len(a.servers):
        p.error("--servers lists a server twice")
    return a


# ------------------------------------------------------------------------------------------------
# Machine info
# ------------------------------------------------------------------------------------------------

def run_text(cmd: list[str], timeout: float = 5.0) -> str | None:
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                           timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            info = f.read()
    except OSError:
        return platform.processor() or "unknown"
    for key in ("model name", "Model", "Hardware", "cpu model", "Processor"):
        m = re.search(rf"^{key}\s*:\s*(.+)$", info, re.MULTILINE)
        if m:
            return m.group(1).strip()
    return platform.processor() or "unknown"


def machine_info(repo: Path) -> dict[str, Any]:
    u = os.uname()
    commit = run_text(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"])
    if commit:
        dirty = run_text(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"])
        if dirty:
            commit += "-dirty"
    info: dict[str, Any] = {
        "uname": run_text(["uname", "-srm"]) or f"{u.sysname} {u.release} {u.machine}",
        "hostname": u.nodename,
        "cpu_model": cpu_model(),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "git_commit": commit or "unknown",
        "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "command": shlex.join([sys.executable, *sys.argv]),
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
    }
    for key, path in (("cpu_governor", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
                      ("ip_local_port_range", "/proc/sys/net/ipv4/ip_local_port_range"),
                      ("somaxconn", "/proc/sys/net/core/somaxconn")):
        try:
            info[key] = Path(path).read_text().strip()
        except OSError:
            pass
    return info


# ------------------------------------------------------------------------------------------------
# Processes
# ------------------------------------------------------------------------------------------------

def read_rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


class StartError(Exception):
    pass


class Server:
    """A server process started with stdout piped; waits for its `listening on` line."""

    def __init__(self, argv: list[str], log_path: Path):
        self.argv = argv
        self.log_path = log_path
        self.stdout_lines: list[str] = []
        self.listen: tuple[str, int] | None = None
        self._ready = threading.Event()
        self._log = open(log_path, "wb")
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=self._log)
        except OSError as e:
            self._log.close()
            raise StartError(f"cannot execute {argv[0]}: {e}")
        self.pid = self.proc.pid
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:  # drains stdout for the server's whole life
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if len(self.stdout_lines) < 1000:
                self.stdout_lines.append(line)
            if self.listen is None:
                m = LISTEN_RE.search(line)
                if m:
                    host = m.group(1) or m.group(2)
                    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
                    self.listen = (host, int(m.group(3)))
                    self._ready.set()
        self._ready.set()  # EOF: the server closed stdout or exited

    def wait_listening(self, timeout: float) -> tuple[str, int]:
        if not self._ready.wait(timeout):
            raise StartError(f"no 'listening on HOST:PORT' line on stdout within {timeout:g} s")
        if self.listen is None:
            rc = self.proc.poll()
            if rc is None:
                try:
                    rc = self.proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    pass
            raise StartError(f"server closed stdout without a 'listening on' line (exit code {rc})"
                             + (f"; stdout: {self.stdout_lines[-1]!r}" if self.stdout_lines else ""))
        return self.listen

    def stop(self) -> tuple[int | None, str]:
        """SIGTERM, wait, SIGKILL. Returns (exit code, how it was stopped)."""
        how = "sigterm"
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=SERVER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                how = f"sigkill (did not exit {SERVER_STOP_TIMEOUT_S:g} s after SIGTERM)"
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    self.proc.wait(timeout=SERVER_STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    how = "unkillable"
        else:
            how = "already exited"
        self._reader.join(timeout=2)
        self._log.close()
        return self.proc.returncode, how

    def stderr_tail(self, n: int = 4000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-n:].decode("utf-8", "replace")


class Pinning:
    def __init__(self, server_cpu: int, load_cpu: int):
        self.taskset = shutil.which("taskset")
        allowed = os.sched_getaffinity(0)
        self.notes: list[str] = []
        self.server_cpu = self._check("server", server_cpu, allowed)
        self.load_cpu = self._check("load generator", load_cpu, allowed)
        if self.server_cpu is not None and self.server_cpu == self.load_cpu:
            self.notes.append(f"server and load generator share CPU {self.server_cpu}")

    def _check(self, who: str, cpu: int, allowed: set[int]) -> int | None:
        if cpu < 0:
            self.notes.append(f"{who} not pinned (negative CPU requested)")
            return None
        if self.taskset is None:
            self.notes.append(f"taskset not found: {who} runs unpinned")
            return None
        if cpu not in allowed:
            self.notes.append(f"CPU {cpu} not available (allowed: {sorted(allowed)}): "
                              f"{who} runs unpinned")
            return None
        return cpu

    def prefix(self, cpu: int | None) -> list[str]:
        return [self.taskset, "-c", str(cpu)] if cpu is not None and self.taskset else []

    def describe(self) -> str:
        s = ("server " + (f"on CPU {self.server_cpu}" if self.server_cpu is not None else "unpinned")
             + ", load generator "
             + (f"on CPU {self.load_cpu}" if self.load_cpu is not None else "unpinned"))
        return s + ("" if not self.notes else " — " + "; ".join(self.notes))


def raise_nofile(needed: int) -> str | None:
    """Raise RLIMIT_NOFILE to the hard limit (children inherit it); warn if still too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, needed + 1024)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < needed + 64:
        return (f"RLIMIT_NOFILE is {soft} but up to {needed} connections are requested; "
                "raise `ulimit -n` (hard limit) or the largest points will fail")
    return None


# ------------------------------------------------------------------------------------------------
# One run
# ------------------------------------------------------------------------------------------------

def fmt_s(x: float) -> str:
    return f"{x:g}"


def parse_load_json(stdout: str) -> dict[str, Any] | None:
    text = stdout.strip()
    if not text:
        return None
    try:
        obj = json.loads(text)
        return obj if isinstance(obj, dict) else None
    except ValueError:
        pass
    for line in reversed(text.splitlines()):  # tolerate extra lines: take the last JSON object
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
                if isinstance(obj, dict):
                    return obj
            except ValueError:
                continue
    return None


def num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def run_point(cfg: argparse.Namespace, name: str, server_argv: list[str], load_argv: list[str],
              pin: Pinning, conns: int, size: int, depth: int, rnd: int, tmpdir: Path,
              logdir: Path) -> dict[str, Any]:
    rec: dict[str, Any] = {"round": rnd, "server": name, "connections": conns, "size": size,
                           "depth": depth, "ok": False, "reason": None}
    t0 = time.monotonic()
    log_path = tmpdir / "server.log"
    srv: Server | None = None
    load_stderr = ""
    try:
        srv = Server(pin.prefix(pin.server_cpu) + server_argv, log_path)
        host, port = srv.wait_listening(SERVER_START_TIMEOUT_S)
        rec["listen"] = f"{host}:{port}"
        rec["server_pid"] = srv.pid
        time.sleep(0.05)
        rec["server_rss_idle_kb"] = read_rss_kb(srv.pid)
        argv = pin.prefix(pin.load_cpu) + load_argv + [
            "--host", host, "--port", str(port), "--connections", str(conns),
            "--size", str(size), "--depth", str(depth), "--duration", fmt_s(cfg.duration),
            "--warmup", fmt_s(cfg.warmup), "--stat-pid", str(srv.pid), "--json"]
        rec["load_cmd"] = shlex.join(argv)
        timeout = cfg.duration + cfg.warmup + 30 + conns / 500.0
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            load_stderr = (e.stderr or b"").decode("utf-8", "replace")
            raise StartError(f"load generator timed out after {timeout:.0f} s (killed)")
        except OSError as e:
            raise StartError(f"cannot execute load generator {argv[0]}: {e}")
        load_stderr = r.stderr.decode("utf-8", "replace")
        rec["load_exit"] = r.returncode
        server_rc = srv.proc.poll()
        if server_rc is None:
            rss_now = read_rss_kb(srv.pid)
        else:
            rss_now = None
        result = parse_load_json(r.stdout.decode("utf-8", "replace"))
        rec["result"] = result
        if server_rc is not None:
            raise StartError(f"server exited during the run (exit code {server_rc})")
        if r.returncode != 0:
            last = [ln for ln in load_stderr.strip().splitlines() if ln.strip()]
            raise StartError(f"load generator exit code {r.returncode}"
                             + (f": {last[-1].strip()}" if last else ""))
        if result is None:
            raise StartError("load generator printed no JSON object on stdout")
        msgs = num(result.get("messages"))
        mps = num(result.get("msgs_per_s"))
        if not msgs or mps is None:
            raise StartError(f"no messages were echoed (messages={result.get('messages')})")
        lat = result.get("latency_us") or {}
        cpu = num(result.get("server_cpu_s"))
        rss = num(result.get("server_rss_kb"))
        if rss is None and rss_now is not None:
            rss, rec["rss_source"] = float(rss_now), "harness /proc read after the run"
        idle = rec.get("server_rss_idle_kb")
        rec.update({
            "ok": True,
            "msgs_per_s": mps,
            "p99_us": num(lat.get("p99")),
            "cpu_us_per_msg": cpu * 1e6 / msgs if cpu is not None else None,
            "server_rss_kb": rss,
            # Memory the connections cost: end RSS minus the idle RSS right after startup.
            "rss_per_conn_kib": ((rss - (idle or 0)) / conns) if rss is not None else None,
            "errors": {k: v for k, v in (result.get("errors") or {}).items()},
        })
    except StartError as e:
        rec["reason"] = str(e)
    except Exception as e:  # never let one point kill the ladder
        rec["reason"] = f"harness error: {type(e).__name__}: {e}"
    finally:
        if srv is not None:
            rc, how = srv.stop()
            rec["server_exit"] = rc
            rec["server_stop"] = how
            if rec["ok"] and (rc != 0 or how != "sigterm"):
                rec["warning"] = f"server did not exit cleanly on SIGTERM: exit code {rc}, {how}"
        rec["wall_s"] = round(time.monotonic() - t0, 3)
    if not rec["ok"]:
        rec["load_stderr_tail"] = load_stderr[-2000:]
        lp = logdir / f"r{rnd}-{name}-c{conns}-s{size}-d{depth}.log"
        try:
            logdir.mkdir(parents=True, exist_ok=True)
            with open(lp, "w", encoding="utf-8") as f:
                f.write(f"reason: {rec['reason']}\n")
                f.write(f"server command: {shlex.join(server_argv)}\n")
                if rec.get("load_cmd"):
                    f.write(f"load command: {rec['load_cmd']}\n")
                if srv is not None:
                    f.write("\n--- server stdout ---\n" + "\n".join(srv.stdout_lines) + "\n")
                    f.write("\n--- server stderr (tail) ---\n" + srv.stderr_tail() + "\n")
                f.write("\n--- load generator stderr (tail) ---\n" + load_stderr[-8000:] + "\n")
            rec["log"] = str(lp)
        except OSError:
            pass
    return rec


# ------------------------------------------------------------------------------------------------
# Aggregation, table, plots
# ------------------------------------------------------------------------------------------------

def median_or_none(vals: list[float | None]) -> float | None:
    v = [x for x in vals if x is not None]
    return statistics.median(v) if v else None


def aggregate(runs: list[dict[str, Any]], servers: list[str],
              points: list[tuple[int, int, int]]) -> dict[tuple[str, int, int, int], dict[str, Any]]:
    out = {}
    for s in servers:
        for (c, sz, d) in points:
            rs = [r for r in runs if r["server"] == s and (r["connections"], r["size"], r["depth"])
                  == (c, sz, d)]
            ok = [r for r in rs if r["ok"]]
            errs: dict[str, int] = {}
            for r in rs:
                src = r.get("errors") or ((r.get("result") or {}).get("errors") or {})
                for k, v in src.items():
                    if isinstance(v, (int, float)) and v:
                        errs[k] = errs.get(k, 0) + int(v)
            out[(s, c, sz, d)] = {
                "server": s, "connections": c, "size": sz, "depth": d,
                "runs": len(rs), "ok_runs": len(ok),
                "msgs_per_s": median_or_none([r.get("msgs_per_s") for r in ok]),
                "p99_us": median_or_none([r.get("p99_us") for r in ok]),
                "cpu_us_per_msg": median_or_none([r.get("cpu_us_per_msg") for r in ok]),
                "rss_per_conn_kib": median_or_none([r.get("rss_per_conn_kib") for r in ok]),
                "server_rss_kb": median_or_none([r.get("server_rss_kb") for r in ok]),
                "errors": errs,
                "failures": [r["reason"] for r in rs if not r["ok"]],
                "warnings": [r["warning"] for r in rs if r.get("warning")],
            }
    return out


def f_int(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f}"


def f_lat(v: float | None) -> str:
    return "—" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:.1f}")


def f_cpu(v: float | None) -> str:
    return "—" if v is None else (f"{v:.2f}" if v < 100 else f"{v:,.0f}")


def f_ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


def render_table(meta: dict[str, Any], cfg: argparse.Namespace, pin: Pinning,
                 servers: list[str], points: list[tuple[int, int, int]],
                 med: dict, unavailable: dict[str, str], notes: list[str]) -> str:
    L: list[str] = []
    L.append("# coil echo benchmark")
    L.append("")
    L.append(f"- Date: {meta['date_utc']}")
    L.append(f"- Machine: {meta['uname']}; CPU: {meta['cpu_model']}; nproc: {meta['nproc']}")
    L.append(f"- Commit: {meta['git_commit']}")
    L.append(f"- Command: `{meta['command']}`")
    L.append(f"- Settings: {cfg.rounds} round(s) (medians shown), {fmt_s(cfg.duration)} s measured "
             f"+ {fmt_s(cfg.warmup)} s warmup per run; servers interleaved within each point; "
             f"each run starts a fresh server")
    L.append(f"- Pinning: {pin.describe()}")
    for n, why in unavailable.items():
        L.append(f"- **{n} skipped**: {why}")
    for n in notes:
        L.append(f"- Note: {n}")
    L.append("")

    shown = servers
    pairs = ratio_pairs(shown)
    hdr = ["conns", "size", "depth"]
    for s in shown:
        hdr += [f"{s} msg/s", f"{s} p99 µs", f"{s} CPU µs/msg"]
    for s, ref in pairs:
        label = f"{short_name(s)}/{short_name(ref)}"
        hdr += [f"{label} msg/s", f"{label} CPU/msg"]
    any_err = any(m["errors"] or m["failures"] or m["warnings"] for m in med.values()
                  if m["server"] in shown)
    if any_err:
        hdr.append("errors / failures")
    L.append("| " + " | ".join(hdr) + " |")
    L.append("|" + "|".join(["---:"] * (len(hdr) - (1 if any_err else 0))
                            + ([":---"] if any_err else [])) + "|")
    footnote_partial = False
    for (c, sz, d) in points:
        row = [f"{c:,}", str(sz), str(d)]
        for s in shown:
            m = med[(s, c, sz, d)]
            if m["ok_runs"] == 0:
                row += ["FAIL", "—", "—"]
                continue
            mark = ""
            if m["ok_runs"] < m["runs"]:
                mark, footnote_partial = f" ({m['ok_runs']}/{m['runs']})", True
            row += [f_int(m["msgs_per_s"]) + mark, f_lat(m["p99_us"]), f_cpu(m["cpu_us_per_msg"])]
        for s, ref in pairs:
            m, b = med[(s, c, sz, d)], med[(ref, c, sz, d)]
            row += [f_ratio(m["msgs_per_s"], b["msgs_per_s"]),
                    f_ratio(m["cpu_us_per_msg"], b["cpu_us_per_msg"])]
        if any_err:
            parts = []
            for s in shown:
                m = med[(s, c, sz, d)]
                bits = [f"{k}={v:,}" for k, v in sorted(m["errors"].items())]
                if m["failures"]:
                    bits.append(f"{len(m['failures'])} failed run(s): {m['failures'][0]}")
                if m["warnings"]:
                    bits.append(f"{len(m['warnings'])} unclean exit(s)")
                if bits:
                    parts.append(f"{s}: " + ", ".join(bits))
            row.append("; ".join(parts).replace("|", "\\|"))
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    L.append("msg/s: echoed messages per second (median over rounds); p99: round-trip latency; "
             "CPU µs/msg: server CPU time (user+sys) over the measured window / messages. "
             "Ratios: server / reference, `base` = epoll-baseline, `uring-base` = uring-baseline "
             "(msg/s: higher is better; CPU/msg: lower is better).")
    if footnote_partial:
        L.append("(k/n) after msg/s: only k of n rounds succeeded; the median is over those.")
    L.append("")

    # Memory table.
    L.append("## Server memory")
    L.append("")
    L.append("| conns | size | depth | " + " | ".join(f"{s} RSS KiB/conn" for s in shown)
             + " | " + " | ".join(f"{s} RSS MiB" for s in shown) + " |")
    L.append("|" + "|".join(["---:"] * (3 + 2 * len(shown))) + "|")
    for (c, sz, d) in points:
        cells = [f"{c:,}", str(sz), str(d)]
        for s in shown:
            v = med[(s, c, sz, d)]["rss_per_conn_kib"]
            cells.append("—" if v is None else f"{v:.2f}")
        for s in shown:
            v = med[(s, c, sz, d)]["server_rss_kb"]
            cells.append("—" if v is None else f"{v / 1024:.1f}")
        L.append("| " + " | ".join(cells) + " |")
    L.append("")
    L.append("RSS KiB/conn = (server RSS at the end of the run − RSS right after startup) / "
             "connections; meaningful only at large connection counts.")
    L.append("")
    return "\n".join(L)


def write_plots(out: Path, servers: list[str], points: list[tuple[int, int, int]], med: dict,
                meta: dict[str, Any]) -> list[str]:
    import plots  # here, not at the top: without matplotlib the measurements are still written
    combos: list[tuple[int, int]] = []
    for (_, sz, d) in points:
        if (sz, d) not in combos:
            combos.append((sz, d))

    def panels(metric: str, y_label: str, **kw: Any) -> list[dict[str, Any]]:
        ps = []
        for sz, d in combos:
            series = {}
            for s in servers:
                series[s] = [(c, med[(s, c, sz2, d2)][metric]) for (c, sz2, d2) in points
                             if (sz2, d2) == (sz, d)]
            ps.append({"title": f"{sz} B messages, depth {d}", "x_label": "connections",
                       "y_label": y_label, "series": series, **kw})
        return ps

    sub = f"{meta['cpu_model']} · {meta['uname']} · commit {meta['git_commit']} · {meta['date_utc']}"
    ncols = 2 if len(combos) > 1 else 1
    files = []
    files += plots.multi_plot(out / "msgs_per_s", "Echo throughput (median msg/s)",
                              panels("msgs_per_s", "messages / s"), ncols=ncols, styles=STYLES,
                              subtitle=sub)
    files += plots.multi_plot(out / "cpu_per_msg", "Server CPU per message (median)",
                              panels("cpu_us_per_msg", "server CPU µs / message"), ncols=ncols,
                              styles=STYLES, subtitle=sub)
    files += plots.multi_plot(out / "p99_us", "p99 round-trip latency (median over rounds)",
                              panels("p99_us", "p99 latency µs", log_y=True), ncols=ncols,
                              styles=STYLES, subtitle=sub)

    # One summary per reference: summary.png against epoll-baseline, summary_uring.png against
    # uring-baseline (coil-uring and its variants).
    all_pairs = ratio_pairs(servers)
    for ref, stem in ((BASELINE, "summary"), (URING_BASELINE, "summary_uring")):
        compared = [s for s, r in all_pairs if r == ref]
        if not compared:
            continue
        ps = []
        styles: dict[str, dict[str, str]] = {}
        for s in compared:
            color = STYLES.get(s, {}).get("color")
            styles[f"{s} msg/s ratio"] = {"color": color} if color else {}
            styles[f"{s} CPU/msg ratio"] = ({"color": color, "dash": "6 4"} if color
                                             else {"dash": "6 4"})
        for sz, d in combos:
            series: dict[str, list] = {}
            for s in compared:
                for metric, label in (("msgs_per_s", "msg/s ratio"),
                                      ("cpu_us_per_msg", "CPU/msg ratio")):
                    pts = []
                    for (c, sz2, d2) in points:
                        if (sz2, d2) != (sz, d):
                            continue
                        a, b = med[(s, c, sz, d)][metric], med[(ref, c, sz, d)][metric]
                        pts.append((c, a / b if a is not None and b else None))
                    series[f"{s} {label}"] = pts
            ps.append({"title": f"{sz} B messages, depth {d}", "x_label": "connections",
                       "y_label": f"ratio to {ref}", "series": series,
                       "y_zero": False, "hlines": [(1.0, "baseline = 1")]})
        files += plots.multi_plot(out / stem, f"relative to {ref}", ps, ncols=ncols,
                                  styles=styles,
                                  subtitle="msg/s ratio (solid): higher is better · CPU/msg ratio "
                                           "(dashed): lower is better · " + sub)
    return files


# ------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------

def resolve_build(build: str, repo: Path) -> Path:
    p = Path(build)
    if p.is_absolute() or p.exists():
        return p.resolve() if p.exists() else p
    alt = repo / p
    return alt if alt.exists() else p


def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # stop the current server, write partial results, exit 130


def finish_run(prog: str, out: Path, results: dict, plot_files: list[str]) -> int:
    """Writes results.json, says where everything went, and returns the exit code: 130 if
    interrupted, 1 if a run failed or a server was unavailable, else 0."""
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    runs = results["runs"]
    failed = sum(1 for r in runs if not r["ok"])
    eprint(f"{prog}: {len(runs) - failed}/{len(runs)} runs ok")
    eprint(f"{prog}: results in {out}/")
    eprint(f"{prog}:   table.md, results.json, runs.jsonl; plots: "
           f"{', '.join(f for f in plot_files if f.endswith('.png')) or 'none'} (and .svg)")
    if results["interrupted"]:
        return 130
    return 1 if failed or results["unavailable_servers"] else 0


def run_all(prog: str, out: Path, tmp: Path,
            jobs: Iterable[tuple[str, Callable[[], dict[str, Any]]]],
            ok_text: Callable[[dict[str, Any]], str]) -> tuple[list[dict[str, Any]], bool]:
    """Runs each (head, run) of `jobs` in order: appends its record to out/runs.jsonl and prints
    a progress line (`head`, then `ok_text(rec)` with the run's errors and warning, or why it
    failed, and the load average before it). Ctrl-C or SIGTERM (see _sigterm) stops it early.
    Removes `tmp` at the end. Returns the records and whether it was interrupted. Used by
    http_bench and offload_bench."""
    runs: list[dict[str, Any]] = []
    interrupted = False
    jsonl = open(out / "runs.jsonl", "w", encoding="utf-8")
    try:
        for head, run in jobs:
            rec = run()
            runs.append(rec)
            jsonl.write(json.dumps(rec) + "\n")
            jsonl.flush()
            if rec["ok"]:
                line = f"{head} {ok_text(rec)}"
                if rec["errors"]:
                    line += " errors " + ",".join(f"{k}={v}" for k, v in rec["errors"].items())
                if rec.get("warning"):
                    line += f" WARNING {rec['warning']}"
            else:
                line = f"{head} FAILED: {rec['reason']}" + (
                    f" (log: {rec['log']})" if rec.get("log") else "")
            la = rec.get("loadavg_before")
            eprint(line + (f" [load {la[0]:.2f}]" if la else ""))
    except KeyboardInterrupt:
        interrupted = True
        eprint(f"{prog}: interrupted; writing partial results")
    finally:
        jsonl.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return runs, interrupted


def plot_or_warn(prog: str, plot: Callable[[], list[str]]) -> list[str]:
    """Returns plot()'s files, or none after saying why it failed: a plotting problem must not
    lose the measurements."""
    try:
        return plot()
    except Exception as e:
        hint = "; install python3-matplotlib" if isinstance(e, ImportError) else ""
        eprint(f"{prog}: plotting failed: {type(e).__name__}: {e}{hint}")
        return []


def main(argv: list[str]) -> int:
    cfg = parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    repo = Path(__file__).resolve().parent.parent
    build = resolve_build(cfg.build, repo)

    defaults = {
        "coil-uring": [str(build / "apps" / "echo_server"), "--port", "0", "--backend", "io_uring"],
        "coil-epoll": [str(build / "apps" / "echo_server"), "--port", "0", "--backend", "epoll"],
        "epoll-baseline": [str(build / "bench" / "baselines" / "baseline_epoll"), "--port", "0"],
        "uring-baseline": [str(build / "bench" / "baselines" / "baseline_uring"), "--port", "0"],
    }
    server_cmds = {s: cfg.server_overrides.get(s) or defaults[s] for s in cfg.servers}
    load_cmd = shlex.split(cfg.load_cmd) if cfg.load_cmd else [str(build / "bench" / "echo_load")]

    def executable(cmd: list[str]) -> bool:
        exe = cmd[0]
        return shutil.which(exe) is not None if "/" not in exe else os.access(exe, os.X_OK)

    if not load_cmd or not executable(load_cmd):
        eprint(f"echo_bench: load generator not found or not executable: {load_cmd[0] if load_cmd else ''}"
               f"\n  (build it first, e.g. `meson compile -C {cfg.build}`, or pass --build / --load-cmd)")
        return 2

    pin = Pinning(cfg.server_cpu, cfg.load_cpu)
    for n in pin.notes:
        eprint(f"echo_bench: note: {n}")

    points: list[tuple[int, int, int]] = [(c, sz, 1) for sz in cfg.sizes for c in cfg.connections]
    for c in cfg.pipelined_connections:
        if (c, PIPELINE_SIZE, cfg.pipeline_depth) not in points:
            points.append((c, PIPELINE_SIZE, cfg.pipeline_depth))

    notes: list[str] = []
    max_conns = max(c for c, _, _ in points)
    w = raise_nofile(max_conns)
    if w:
        notes.append(w)
        eprint(f"echo_bench: warning: {w}")

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    # Relative to the repository (not the caller's directory), and printed absolute.
    out = (Path(cfg.out) if cfg.out else repo / "results" / stamp).resolve()
    out.mkdir(parents=True, exist_ok=True)
    logdir = out / "logs"
    meta = machine_info(repo)
    tmp = Path(tempfile.mkdtemp(prefix="echo_bench-"))

    # Probe each server once: one that cannot start at all is dropped up front instead of
    # failing (slowly) at every point.
    unavailable: dict[str, str] = {}
    for s in list(cfg.servers):
        cmd = server_cmds[s]
        if not executable(cmd):
            unavailable[s] = f"not found or not executable: {cmd[0]}"
        else:
            try:
                srv = Server(pin.prefix(pin.server_cpu) + cmd, tmp / "probe.log")
                try:
                    srv.wait_listening(SERVER_START_TIMEOUT_S)
                except StartError as e:
                    tail = srv.stderr_tail(600).strip().splitlines()
                    unavailable[s] = str(e) + (f"; stderr: {tail[-1]}" if tail else "")
                finally:
                    rc, how = srv.stop()
                    if s not in unavailable and (rc != 0 or how != "sigterm"):
                        notes.append(f"{s}: probe run did not exit cleanly on SIGTERM "
                                     f"(exit code {rc}, {how})")
            except StartError as e:
                unavailable[s] = str(e)
        if s in unavailable:
            eprint(f"echo_bench: skipping {s}: {unavailable[s]}")
    servers = [s for s in cfg.servers if s not in unavailable]
    if not servers:
        eprint("echo_bench: no server could be started; nothing to measure")
        shutil.rmtree(tmp, ignore_errors=True)
        return 2

    total = cfg.rounds * len(points) * len(servers)
    est = total * (cfg.duration + cfg.warmup + 0.5)
    eprint(f"echo_bench: {len(points)} points x {len(servers)} servers x {cfg.rounds} round(s) = "
           f"{total} runs, roughly {est / 60:.1f} min; results in {out}")

    runs: list[dict[str, Any]] = []
    interrupted = False
    idx = 0
    jsonl = open(out / "runs.jsonl", "w", encoding="utf-8")
    try:
        for rnd in range(1, cfg.rounds + 1):
            for (c, sz, d) in points:
                for s in servers:
                    idx += 1
                    rec = run_point(cfg, s, server_cmds[s], load_cmd, pin, c, sz, d, rnd, tmp,
                                    logdir)
                    runs.append(rec)
                    jsonl.write(json.dumps(rec) + "\n")
                    jsonl.flush()
                    head = f"[{idx}/{total}] {s} c={c} s={sz} d={d}:"
                    if rec["ok"]:
                        cpu = rec["cpu_us_per_msg"]
                        p99 = rec["p99_us"]
                        line = (f"{head} {rec['msgs_per_s']:,.0f} msg/s"
                                f" p99 {f_lat(p99)}us"
                                f" cpu {'—' if cpu is None else f'{cpu:.1f}'}us/msg")
                        errs = {k: v for k, v in (rec.get("errors") or {}).items() if v}
                        if errs:
                            line += " errors " + ",".join(f"{k}={v}" for k, v in errs.items())
                        if rec.get("warning"):
                            line += f" WARNING {rec['warning']}"
                    else:
                        line = f"{head} FAILED: {rec['reason']}" + (
                            f" (log: {rec['log']})" if rec.get("log") else "")
                    eprint(line)
    except KeyboardInterrupt:
        interrupted = True
        eprint("echo_bench: interrupted; writing partial results")
    finally:
        jsonl.close()
        shutil.rmtree(tmp, ignore_errors=True)

    med = aggregate(runs, servers, points)
    if interrupted:
        notes.append(f"interrupted after {len(runs)} of {total} runs")
    table = render_table(meta, cfg, pin, servers, points, med, unavailable, notes)
    print(table, flush=True)
    (out / "table.md").write_text(table + "\n", encoding="utf-8")

    plot_files: list[str] = []
    try:
        plot_files = write_plots(out, servers, points, med, meta)
    except Exception as e:  # a plotting bug must not lose the measurements
        hint = "; install python3-matplotlib (./dev setup)" if isinstance(e, ImportError) else ""
        eprint(f"echo_bench: plotting failed: {type(e).__name__}: {e}{hint}")

    results = {
        "schema": 1,
        "machine": meta,
        "config": {
            "build": str(build), "rounds": cfg.rounds, "duration_s": cfg.duration,
            "warmup_s": cfg.warmup, "connections": cfg.connections, "sizes": cfg.sizes,
            "pipelined_connections": cfg.pipelined_connections,
            "pipeline_depth": cfg.pipeline_depth, "pipeline_size": PIPELINE_SIZE,
            "servers_requested": cfg.servers, "servers": servers,
            "server_commands": {s: shlex.join(server_cmds[s]) for s in cfg.servers},
            "load_command": shlex.join(load_cmd),
            "pinning": {"taskset": pin.taskset, "server_cpu": pin.server_cpu,
                        "load_cpu": pin.load_cpu, "notes": pin.notes},
            "quick": cfg.quick,
        },
        "points": [{"connections": c, "size": sz, "depth": d} for (c, sz, d) in points],
        "unavailable_servers": unavailable,
        "notes": notes,
        "interrupted": interrupted,
        "runs": runs,
        "medians": list(med.values()),
        "files": ["results.json", "runs.jsonl", "table.md", *plot_files],
    }
    return finish_run("echo_bench", out, results, plot_files)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
