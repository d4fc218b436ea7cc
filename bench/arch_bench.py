#!/usr/bin/env python3
"""arch_bench.py - the classic server architectures, the real servers of the background reading and
coil, side by side over HTTP and TCP echo (issue 12).

Servers (--servers): the baselines of bench/baselines/ (iterative, forking, preforked, threaded,
prethreaded, poll, epoll), coil's apps/http_server on io_uring and on epoll, and the real peers of
bench/arch_peers.py, each from Debian, started from a config generated into a temporary directory
and stopped by PID: nginx (one worker), Apache httpd 2.4 with the prefork, worker and event MPMs,
Node.js (`http`, one process), Python asyncio (bench/peers/asyncio_server.py), and nginx-proxy:
nginx as a keep-alive reverse proxy in front of two coil http_servers (the scale-out layout; all
three processes share the server CPU, so it shows the proxy's cost, not a gain). A peer that is
not installed or does not start is reported once and left out; the run goes on.

For every point (mode x connections x round) each server is started fresh, pinned to --server-cpu,
and measured by one wrk run (one thread, pinned to --load-cpu), as the classic runs were; the
servers take turns within a round (interleaved), and the table shows the median round (by
requests/s). Modes:
  keepalive  every connection sends its requests one after another
  close      every request carries "Connection: close": a TCP connection per request
Per point: requests/s, p50/p99 latency, errors and timeouts (wrk's), server CPU (all its processes
and threads, reaped children included), peak RSS (all its processes, sampled every 100 ms).
Latency percentiles cover answered requests only: a connection that is never served (a full
pool, the iterative server with keep-alive) shows as wrk timeouts, which is why --duration must
exceed --timeout.

The echo table (--echo-connections, default 100,1000,10000; "none" skips it): the baselines with
--protocol echo and coil's apps/echo_server (both backends) under bench/echo_load (64-octet
messages, one in flight per connection): messages/s, p99, CPU per message, peak RSS.

Limits, so that a collapse is recorded as the server's failure mode instead of hurting the
machine: a watchdog samples the server's process tree and kills it (by PID, every process of it)
when its RSS passes --max-rss-mib or its processes + threads pass --max-tasks; the run is then
recorded as "killed: ...". Every process a server leaves behind is killed by its PID.

For every server and mode, table.md ends with one sentence on how and where it degrades, read
off the medians: the first connection count at which it fails (with the reason), shows errors or
timeouts, leaves connections waiting in its accept queue (keep-alive and echo; sampled with ss
every 0.5 s), or serves under half its peak requests/s.

Outputs (in --out, default <repository>/results/arch-<UTC timestamp>): results.json, runs.jsonl,
table.md (rows = connections, columns = servers, as the classic table), and plots
(req_per_s, p99_ms, peak_rss_mib; .png and .svg) when matplotlib is installed (else a line on
stderr says why there are none).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from echo_bench import Pinning, Server, StartError, eprint, machine_info, resolve_build  # noqa: E402
from echo_bench import _sigterm, parse_load_json, raise_nofile  # noqa: E402
from http_bench import (WRK_REPORT_LUA, ERROR_KINDS, loadavg, proc_stat,  # noqa: E402
                        process_tree, run_wrk)
import arch_peers  # noqa: E402

BASELINES = ["iterative", "forking", "preforked", "threaded", "prethreaded", "poll", "epoll"]
PEERS = ["nginx", "apache-prefork", "apache-worker", "apache-event", "node", "asyncio",
         "nginx-proxy"]
# coil-uring-2t: http_server / echo_server with --threads 2 (two io_uring loops, one
# SO_REUSEPORT listener each). A 2-thread server cannot live on one CPU: it runs on the server's
# and the load generator's CPUs, so on a 2-core machine it shares a core with wrk (the table says
# so beside it).
COIL = ["coil-uring", "coil-epoll", "coil-uring-2t"]
SERVERS = [f"baseline-{b}" for b in BASELINES] + COIL + PEERS
ECHO_SERVERS = [f"baseline-{b}" for b in BASELINES] + COIL
MODES = ["keepalive", "close"]
CONNECTIONS = [20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 15000]
ECHO_CONNECTIONS = [100, 1000, 10000]
# The full ladder, three rounds at every point, takes about two hours; the medians are quoted at
# these points, the curves between them are shapes (one round each), which halves the run.
ROUNDS_AT = [100, 1000, 10000]
ECHO_SIZE = 64
START_TIMEOUT_S = 15.0
# --quick: one round of short runs at the telling points, about two minutes for every server:
# keep-alive at 100 and 1,000 connections, a connection per request at 1,000, echo at 1,000.
QUICK = {"connections": [100, 1000], "echo_connections": [1000], "duration": 2,
         "timeout": 1, "rounds": 1, "echo_duration": 1.0}
QUICK_SKIP = {("close", 100)}
# Line styles of the plots: the baselines solid, coil thick, the real peers dashed.
STYLES = {**{s: {"dash": "4 2"} for s in PEERS}, "coil-uring": {"color": "#000000"},
          "coil-epoll": {"color": "#7f7f7f"}, "coil-uring-2t": {"color": "#000000", "dash": "1 1"}}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="arch_bench.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Example: ./dev bench arch --quick")
    p.add_argument("--build", default="build/release", help="build dir (default build/release)")
    p.add_argument("--servers", default=",".join(SERVERS), help="comma-separated subset of "
                   + ", ".join(SERVERS))
    p.add_argument("--modes", default=",".join(MODES), help="keepalive,close (default both)")
    p.add_argument("--connections", default=None,
                   help="comma-separated list (default " + ",".join(map(str, CONNECTIONS)) + ")")
    p.add_argument("--rounds", type=int, default=3, help="rounds per point; the table shows the "
                   "median (default 3)")
    p.add_argument("--rounds-at", default=None,
                   help="connection counts of the HTTP ladder measured --rounds times; every other "
                   "point is measured once (default " + ",".join(map(str, ROUNDS_AT)) +
                   ": the points docs/architectures.md quotes; 'all': every point). The echo "
                   "table always gets --rounds")
    p.add_argument("--duration", type=int, default=5, help="seconds per point (default 5)")
    p.add_argument("--timeout", type=int, default=2, help="wrk's request timeout in s (default 2)")
    p.add_argument("--echo-connections", default=None, help="the echo table's connection counts "
                   "(default " + ",".join(map(str, ECHO_CONNECTIONS)) + "; 'none' skips it)")
    p.add_argument("--echo-duration", type=float, default=5.0,
                   help="seconds per echo point (default 5)")
    p.add_argument("--workers", type=int, default=None,
                   help="pool size of the preforked and prethreaded baselines (default: theirs)")
    p.add_argument("--max-rss-mib", type=int, default=2048, help="watchdog: RSS of a server's "
                   "processes (default 2048)")
    p.add_argument("--max-tasks", type=int, default=20000, help="watchdog: processes + threads "
                   "of a server (default 20000)")
    p.add_argument("--server-cpu", type=int, default=0,
                   help="CPU every server process is pinned to (default 0)")
    p.add_argument("--load-cpu", type=int, default=1,
                   help="CPU wrk and echo_load are pinned to (default 1)")
    p.add_argument("--wrk", default="wrk", help="the wrk program (default: wrk on PATH)")
    p.add_argument("--quick", action="store_true",
                   help="one round of 2 s points: keep-alive at 100 and 1,000 connections, close "
                   "at 1,000, echo at 1,000 (about two minutes)")
    p.add_argument("--out", default=None, help="output directory (default "
                   "<repository>/results/arch-<UTC timestamp>)")
    cfg = p.parse_args(argv)
    cfg.servers = [s for s in cfg.servers.split(",") if s]
    cfg.modes = [m for m in cfg.modes.split(",") if m]
    for s in cfg.servers:
        if s not in SERVERS:
            p.error(f"unknown server '{s}'")
    for m in cfg.modes:
        if m not in MODES:
            p.error(f"unknown mode '{m}'")
    given = {a.split("=")[0] for a in argv}
    if cfg.quick:  # explicit options win over the quick defaults
        for k, v in QUICK.items():
            if "--" + k.replace("_", "-") not in given:
                setattr(cfg, k, v)
    def counts(option: str, text: str) -> list[int]:
        """A comma-separated list of connection counts, each a whole number of at least 1
        (refused here, before anything starts, instead of failing every wrk run)."""
        out = []
        for c in (c.strip() for c in text.split(",")):
            if not c:
                continue
            if not c.isdigit() or int(c) < 1:
                p.error(f"{option}: '{c}' is not a connection count (a whole number >= 1)")
            out.append(int(c))
        if not out:
            p.error(f"{option}: no connection count given")
        return out

    if isinstance(cfg.connections, str):
        cfg.connections = counts("--connections", cfg.connections)
    elif cfg.connections is None:
        cfg.connections = CONNECTIONS
    if isinstance(cfg.echo_connections, str):
        cfg.echo_connections = ([] if cfg.echo_connections == "none" else
                                counts("--echo-connections", cfg.echo_connections))
    elif cfg.echo_connections is None:
        cfg.echo_connections = ECHO_CONNECTIONS
    if cfg.rounds < 1:
        p.error("--rounds must be at least 1")
    if cfg.rounds_at == "all":
        cfg.rounds_at = None
    else:
        try:
            cfg.rounds_at = ROUNDS_AT if cfg.rounds_at is None else \
                [int(c) for c in cfg.rounds_at.split(",") if c]
        except ValueError:
            p.error("--rounds-at expects a comma-separated list of connection counts or 'all'")
    if cfg.duration <= cfg.timeout:
        # wrk counts a request as timed out only once it has waited --timeout: a connection that
        # a full pool never serves is invisible in a shorter run.
        p.error("--duration must be longer than --timeout")
    return cfg


def server_argv(name: str, cfg: argparse.Namespace, build: Path, protocol: str = "http"
                ) -> list[str]:
    """The command of a baseline or of coil (the peers are started by arch_peers)."""
    if name.startswith("coil-"):
        app = "http_server" if protocol == "http" else "echo_server"
        argv = [str(build / "apps" / app), "--port", "0", "--backend",
                "epoll" if name == "coil-epoll" else "io_uring"]
        return argv + (["--threads", "2"] if name == "coil-uring-2t" else [])
    base = name.removeprefix("baseline-")
    argv = [str(build / "bench" / "baselines" / f"baseline_{base}"), "--port", "0",
            "--protocol", protocol]
    if cfg.workers and base in ("preforked", "prethreaded"):
        argv += ["--workers", str(cfg.workers)]
    return argv


def server_prefix(name: str, pin: Pinning) -> list[str]:
    """taskset for a server: the server CPU, or for the 2-thread coil both pinned CPUs."""
    if name == "coil-uring-2t" and pin.server_cpu is not None and pin.load_cpu is not None:
        return [pin.taskset, "-c", f"{pin.server_cpu},{pin.load_cpu}"]
    return pin.prefix(pin.server_cpu)


def start(name: str, cfg: argparse.Namespace, build: Path, pin: Pinning, tmp: Path,
          conns: int, protocol: str = "http") -> Any:
    """Starts one server (a Server, or an arch_peers.Group) and waits until it listens."""
    prefix = server_prefix(name, pin)
    if name in PEERS:
        return arch_peers.start_peer(name, tmp, prefix, conns, START_TIMEOUT_S,
                                     str(build / "apps" / "http_server"))
    srv = Server(prefix + server_argv(name, cfg, build, protocol), tmp / f"{name}.log")
    try:
        srv.wait_listening(START_TIMEOUT_S)
    except BaseException:  # StartError, and Ctrl-C or SIGTERM (_sigterm) while it starts
        srv.stop()
        raise
    return srv


def roots_of(srv: Any) -> list[int]:
    return list(getattr(srv, "pids", [srv.pid]))


def exited(srv: Any) -> int | None:
    """An exit code if the server (any process of a group) has exited during the run."""
    for s in [srv] if not hasattr(srv, "back") else [srv.front] + srv.back:
        rc = s.proc.poll()
        if rc is not None:
            return rc
    return None


def trees(roots: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for r in roots:
        out.update(process_tree(r))
    return out


def tree_usage(roots: list[int]) -> tuple[dict[int, str], int, int]:
    """(process trees, RSS in bytes, processes + threads) of a server."""
    tree = trees(roots)
    rss = tasks = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for pid in tree:
        f = proc_stat(pid)
        if f and len(f) > 21:
            rss += int(f[21]) * page
            tasks += int(f[17])  # num_threads
    return tree, rss, tasks


def accept_queue(port: int) -> int | None:
    """Connections waiting in the accept queue of the listening socket on `port` (ss's Recv-Q of a
    LISTEN socket; a netlink dump of listening sockets only, cheap at any connection count)."""
    try:
        out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True,
                             timeout=5).stdout.split()
        return int(out[1]) if len(out) > 1 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None


class Watchdog(threading.Thread):
    """Samples a server's trees every 100 ms: peak RSS, peak tasks, every PID seen (to kill any
    that is left behind), and kills every process of them when it passes a limit. Every 0.5 s it
    also reads the listening socket's accept queue: connections the server has not taken (a full
    pool, the iterative server), which wrk may not count as timeouts in a short run."""

    def __init__(self, roots: list[int], max_rss: int, max_tasks: int, port: int | None = None):
        super().__init__(daemon=True)
        self.roots, self.max_rss, self.max_tasks, self.port = roots, max_rss, max_tasks, port
        self.peak_queue: int | None = None
        self._ticks = 0
        self.peak_rss = self.peak_tasks = 0
        self.seen: dict[int, str] = {}
        self.killed: str | None = None
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.1):
            self.sample()
            self._ticks += 1
            if self.port and self._ticks % 5 == 0:
                q = accept_queue(self.port)
                if q is not None:
                    self.peak_queue = max(self.peak_queue or 0, q)

    def sample(self) -> None:
        tree, rss, tasks = tree_usage(self.roots)
        self.seen.update(tree)
        self.peak_rss, self.peak_tasks = max(self.peak_rss, rss), max(self.peak_tasks, tasks)
        if self.killed is None and (rss > self.max_rss or tasks > self.max_tasks):
            self.killed = (f"RSS {rss >> 20} MiB > {self.max_rss >> 20} MiB" if rss > self.max_rss
                           else f"{tasks} processes + threads > {self.max_tasks}")
            kill_pids(tree)

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=5)


def kill_pids(tree: dict[int, str]) -> list[int]:
    """SIGKILLs every PID of `tree` that is still the same process (same start time)."""
    killed = []
    for pid, started in tree.items():
        f = proc_stat(pid)
        if f and len(f) > 19 and f[19] == started and f[0] != "Z":
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
    return killed


def process_cpu_ns(pids: list[int]) -> int:
    """CPU time (utime + stime) of the processes so far, in ns. From each process's own
    /proc/PID/stat, which keeps the CPU of its threads that have exited (a thread per connection
    takes its per-task counters with it: summing live threads would lose it)."""
    total = 0
    for pid in pids:
        f = proc_stat(pid)
        if f and len(f) > 12:
            total += (int(f[11]) + int(f[12])) * 10**9 // os.sysconf("SC_CLK_TCK")
    return total


def reaped_children_cpu_ns(roots: list[int]) -> int:
    """CPU of the children the servers have reaped (cutime + cstime): a forking server's work."""
    total = 0
    for pid in roots:
        f = proc_stat(pid)
        if f and len(f) >= 15:
            total += (int(f[13]) + int(f[14])) * 10**9 // os.sysconf("SC_CLK_TCK")
    return total


class Measured:
    """Starts a server under the watchdog, measures its CPU over a load run, and stops it and
    every process it left behind (by PID) whatever happens."""

    def __init__(self, cfg: argparse.Namespace, name: str, build: Path, pin: Pinning, tmp: Path,
                 conns: int, protocol: str, rec: dict[str, Any]):
        self.cfg, self.name, self.build, self.pin, self.tmp = cfg, name, build, pin, tmp
        self.conns, self.protocol, self.rec = conns, protocol, rec
        self.srv: Any = None
        self.dog: Watchdog | None = None

    def __enter__(self) -> "Measured":
        self.srv = start(self.name, self.cfg, self.build, self.pin, self.tmp, self.conns,
                         self.protocol)
        self.roots = roots_of(self.srv)
        self.dog = Watchdog(self.roots, self.cfg.max_rss_mib << 20, self.cfg.max_tasks,
                            self.srv.listen[1] if self.srv.listen else None)
        self.dog.sample()
        self.dog.start()
        self.cpu0 = process_cpu_ns(list(trees(self.roots))) + reaped_children_cpu_ns(self.roots)
        return self

    def finish(self) -> float:
        """After the load: records RSS/tasks/CPU; raises StartError if the server failed."""
        assert self.dog is not None
        self.dog.sample()
        pids = sorted(set(trees(self.roots)) | set(self.dog.seen))
        cpu1 = process_cpu_ns(pids) + reaped_children_cpu_ns(self.roots)
        cpu_s = (cpu1 - self.cpu0) / 1e9
        self.rec.update({"peak_rss_mib": round(self.dog.peak_rss / 2**20, 1),
                         "peak_tasks": self.dog.peak_tasks, "server_cpu_s": round(cpu_s, 3),
                         "accept_queue_peak": self.dog.peak_queue})
        if self.dog.killed:
            raise StartError(f"killed by the watchdog: {self.dog.killed}")
        rc = exited(self.srv)
        if rc is not None:
            raise StartError(f"server exited during the run (exit code {rc})")
        return cpu_s

    def __exit__(self, *exc: Any) -> None:
        if self.dog is not None:
            self.dog.stop()
        if self.srv is not None:
            seen = dict(self.dog.seen) if self.dog else {}
            seen.update(trees(self.roots))
            rc, how = self.srv.stop()
            self.rec["server_exit"], self.rec["server_stop"] = rc, how
            left = kill_pids({p: s for p, s in seen.items() if p not in self.roots})
            if left:
                self.rec["leftover_killed"] = left


def run_point(cfg: argparse.Namespace, name: str, build: Path, pin: Pinning, lua: Path,
              mode: str, conns: int, rnd: int, tmp: Path) -> dict[str, Any]:
    rec: dict[str, Any] = {"server": name, "mode": mode, "connections": conns, "round": rnd,
                           "ok": False, "reason": None, "loadavg_before": loadavg()}
    try:
        with Measured(cfg, name, build, pin, tmp, conns, "http", rec) as m:
            host, port = m.srv.listen
            argv = pin.prefix(pin.load_cpu) + [cfg.wrk, "-t1", f"-c{conns}", f"-d{cfg.duration}s",
                                               "--timeout", f"{cfg.timeout}s", "-s", str(lua)]
            if mode == "close":
                argv += ["-H", "Connection: close"]
            argv.append(f"http://{host}:{port}/")
            result, _ = run_wrk(argv, cfg.duration, conns)
            cpu_s = m.finish()
            if result is None or not result["requests"] or not result["duration_us"]:
                errs = {k: result[k] for k in ERROR_KINDS if result and result.get(k)}
                raise StartError(f"no request answered in {cfg.duration} s"
                                 + (f" (wrk errors: {errs})" if errs else " (wrk saw no error)"))
            reqs, dur_us = result["requests"], result["duration_us"]
            rec.update({
                "ok": True,
                "req_per_s": reqs * 1e6 / dur_us,
                "p50_ms": result["p50_us"] / 1e3,
                "p99_ms": result["p99_us"] / 1e3,
                "errors": {k: int(result.get(k, 0)) for k in ERROR_KINDS if result.get(k)},
                "cpu_us_per_req": cpu_s * 1e6 / reqs,
            })
    except StartError as e:
        rec["reason"] = str(e)
    except Exception as e:  # one point must not end the whole run
        rec["reason"] = f"harness error: {type(e).__name__}: {e}"
    rec["loadavg_after"] = loadavg()
    return rec


def run_echo_point(cfg: argparse.Namespace, name: str, build: Path, pin: Pinning, conns: int,
                   rnd: int, tmp: Path) -> dict[str, Any]:
    """One bench/echo_load run (64-octet messages, one in flight per connection)."""
    rec: dict[str, Any] = {"server": name, "mode": "echo", "connections": conns, "round": rnd,
                           "ok": False, "reason": None, "loadavg_before": loadavg()}
    try:
        with Measured(cfg, name, build, pin, tmp, conns, "echo", rec) as m:
            host, port = m.srv.listen
            warmup = min(1.0, cfg.echo_duration / 2)
            argv = pin.prefix(pin.load_cpu) + [
                str(build / "bench" / "echo_load"), "--host", host, "--port", str(port),
                "--connections", str(conns), "--size", str(ECHO_SIZE), "--depth", "1",
                "--duration", f"{cfg.echo_duration:g}", "--warmup", f"{warmup:g}", "--json"]
            limit = cfg.echo_duration + warmup + 30 + conns / 500.0
            try:
                r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=limit)
            except subprocess.TimeoutExpired:
                raise StartError(f"echo_load timed out after {limit:.0f} s (killed)")
            cpu_s = m.finish()
            result = parse_load_json(r.stdout.decode("utf-8", "replace"))
            if r.returncode != 0 or result is None:
                last = [ln for ln in r.stderr.decode("utf-8", "replace").splitlines() if ln]
                raise StartError(f"echo_load exit code {r.returncode}"
                                 + (f": {last[-1].strip()}" if last else ""))
            msgs = result.get("messages") or 0
            if not msgs:
                raise StartError("no message was echoed")
            lat = result.get("latency_us") or {}
            rec.update({
                "ok": True,
                "req_per_s": result.get("msgs_per_s"),
                "p99_ms": (lat.get("p99") or 0) / 1e3,
                "errors": {k: v for k, v in (result.get("errors") or {}).items() if v},
                "connected": result.get("connected"),
                # echo_load's window is warm-up + duration; the CPU is the whole run's.
                "cpu_us_per_req": cpu_s * 1e6 / msgs,
            })
    except StartError as e:
        rec["reason"] = str(e)
    except Exception as e:
        rec["reason"] = f"harness error: {type(e).__name__}: {e}"
    rec["loadavg_after"] = loadavg()
    return rec


def medians(runs: list[dict[str, Any]]) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Per (server, mode, connections): the round with the median requests/s among those that
    succeeded (the lower middle for an even count), with every round's figure and failure; a
    failed record when no round succeeded."""
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((r["server"], r["mode"], r["connections"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        ok = sorted((r for r in rs if r["ok"]), key=lambda r: r["req_per_s"])
        rec = dict(ok[(len(ok) - 1) // 2] if ok else rs[0])
        rec["rounds"] = len(rs)
        rec["rounds_ok"] = len(ok)
        rec["req_per_s_rounds"] = [round(r["req_per_s"]) if r["ok"] else None for r in rs]
        rec["peak_rss_mib"] = max((r.get("peak_rss_mib") or 0 for r in rs), default=None)
        out[key] = rec
    return out


def cell(rec: dict[str, Any] | None, key: str, fmt: str) -> str:
    if rec is None:
        return ""
    if key == "peak_rss_mib":  # shown for a failed point too: it may be why it failed
        if rec.get(key) is None:
            return ""
        return format(rec[key], fmt) + ("" if rec["ok"] else " (fail)")
    if not rec["ok"] or rec.get(key) is None:
        return "fail"
    errors = sum(rec.get("errors", {}).values())
    part = "" if rec["rounds_ok"] == rec["rounds"] else f" ({rec['rounds_ok']}/{rec['rounds']} ok)"
    return format(rec[key], fmt) + (f" ({errors:,} err)" if errors else "") + part


def degradation(server: str, mode: str, conns: list[int],
                med: dict[tuple[str, str, int], dict[str, Any]], unit: str = "req/s") -> str:
    """One sentence, from the medians: where the server first fails, shows errors or timeouts,
    or serves under half its peak."""
    recs = [(c, med.get((server, mode, c))) for c in conns]
    recs = [(c, r) for c, r in recs if r is not None]
    if not recs:
        return f"{server}, {mode}: not measured."
    ok = [(c, r) for c, r in recs if r["ok"]]
    if not ok:
        return f"{server}, {mode}: failed at every point ({recs[0][1]['reason']})."
    peak_c, peak = max(ok, key=lambda cr: cr[1]["req_per_s"])
    head = f"**{server}**, {mode}: peak {peak['req_per_s']:,.0f} {unit} at {peak_c:,} connections"
    for c, r in recs:
        if not r["ok"]:
            return f"{head}; fails from {c:,} ({r['reason']})."
        errs = r.get("errors") or {}
        if sum(errs.values()):
            what = ", ".join(f"{v:,} {k}" for k, v in errs.items())
            return (f"{head}; errors from {c:,} connections ({what}; "
                    f"{r['req_per_s']:,.0f} {unit}).")
        queue = r.get("accept_queue_peak") or 0
        # Not with a connection per request: there a queue is the server being busy, not a
        # client never served.
        if mode != "close" and queue >= max(10, c // 10):
            return (f"{head}; from {c:,} connections up to {queue:,} of them wait unserved in the "
                    f"accept queue ({r['req_per_s']:,.0f} {unit} for the others).")
        if r["req_per_s"] < peak["req_per_s"] / 2:
            return (f"{head}; under half of it from {c:,} connections "
                    f"({r['req_per_s']:,.0f} {unit}, p99 {r['p99_ms']:.1f} ms).")
    last_c, last = recs[-1]
    return (f"{head}; no error and at least half its peak up to {last_c:,} "
            f"({last['req_per_s']:,.0f} {unit}, p99 {last['p99_ms']:.1f} ms, "
            f"{last.get('peak_rss_mib') or 0:.0f} MiB).")


def table(title: str, servers: list[str], conns: list[int], med: dict, mode: str, key: str,
          fmt: str) -> list[str]:
    lines = [f"### {title}", "", "| connections | " + " | ".join(servers) + " |",
             "|---:|" + "---:|" * len(servers)]
    for c in conns:
        if not any((s, mode, c) in med for s in servers):
            continue  # a point not run (--quick leaves some out)
        row = [cell(med.get((s, mode, c)), key, fmt) for s in servers]
        lines.append(f"| {c:,} | " + " | ".join(row) + " |")
    return lines + [""]


def render_tables(runs: list[dict[str, Any]], cfg: argparse.Namespace,
                  unavailable: dict[str, str]) -> str:
    med = medians(runs)
    every = cfg.rounds_at is None or cfg.rounds == 1
    lines = [f"rounds per point: {cfg.rounds} (median shown)"
             + ("" if every else " at " + ", ".join(f"{c:,}" for c in cfg.rounds_at)
                + " connections and for echo, 1 elsewhere")
             + f"; {cfg.duration} s per point; "
             f"wrk -t1, timeout {cfg.timeout} s", ""]
    if "coil-uring-2t" in cfg.servers or "coil-uring-2t" in cfg.echo_servers:
        lines += ["coil-uring-2t runs two loops on the server's and the load generator's CPUs "
                  f"({cfg.server_cpu},{cfg.load_cpu}): it shares a core with the load generator, "
                  "every other server has one CPU of its own.", ""]
    for mode in cfg.modes:
        for key, fmt, title in (("req_per_s", ",.0f", "requests/s"), ("p99_ms", ".1f", "p99 ms"),
                                ("cpu_us_per_req", ".1f", "server CPU µs per request"),
                                ("peak_rss_mib", ".1f", "peak RSS MiB")):
            lines += table(f"{title}, {mode}", cfg.servers, cfg.connections, med, mode, key, fmt)
    echo_servers = [s for s in cfg.echo_servers]
    if cfg.echo_connections and echo_servers:
        lines += [f"## TCP echo ({ECHO_SIZE}-octet messages, one in flight per connection, "
                  f"bench/echo_load, {cfg.echo_duration:g} s per point)", ""]
        for key, fmt, title in (("req_per_s", ",.0f", "messages/s"), ("p99_ms", ".2f", "p99 ms"),
                                ("cpu_us_per_req", ".1f", "server CPU µs per message"),
                                ("peak_rss_mib", ".1f", "peak RSS MiB")):
            lines += table(f"echo: {title}", echo_servers, cfg.echo_connections, med, "echo",
                           key, fmt)
    lines += ["## How each one degrades", "",
              "(from the medians above: the first connection count where it fails, shows "
              "errors or timeouts, leaves connections waiting in its accept queue (keep-alive "
              "and echo), or serves under half its peak)", ""]
    for s in cfg.servers:
        for mode in cfg.modes:
            lines.append("- " + degradation(s, mode, cfg.connections, med))
    if cfg.echo_connections:
        for s in cfg.echo_servers:
            lines.append("- " + degradation(s, "echo", cfg.echo_connections, med, "msg/s"))
    lines.append("")
    if unavailable:
        lines += ["### not measured", ""] + [f"- {s}: {why}" for s, why in unavailable.items()]
        lines.append("")
    failures = [f"- {r['server']} {r['mode']} c={r['connections']} round {r['round']}: "
                f"{r['reason']}" for r in runs if not r["ok"]]
    if failures:
        lines += ["### failed runs", ""] + failures + [""]
    return "\n".join(lines)


def write_plots(out: Path, runs: list[dict[str, Any]], cfg: argparse.Namespace) -> list[str]:
    try:
        from plots import multi_plot
    except ImportError as e:  # the measurements are written anyway; say why there is no plot
        eprint(f"arch_bench: plots skipped: {e}; install python3-matplotlib (./dev setup), "
               f"or run with the Python that has it (./dev uses /usr/bin/python3)")
        return []
    med = medians(runs)
    files = []
    for key, title, label in (("req_per_s", "requests/s", "requests/s"),
                              ("p99_ms", "p99 latency", "ms"),
                              ("peak_rss_mib", "peak RSS", "MiB")):
        panels = []
        for mode in cfg.modes:
            series = {}
            for s in cfg.servers:
                pts = []
                for c in cfg.connections:
                    r = med.get((s, mode, c))
                    if r is not None:
                        pts.append((c, r.get(key) if r["ok"] or key == "peak_rss_mib" else None))
                series[s] = pts
            panels.append({"title": f"{title}, {mode}", "x_label": "connections",
                           "y_label": label, "series": series, "log_x": True})
        files += multi_plot(out / key, f"{title} by connections", panels, ncols=len(panels),
                            styles=STYLES)
    return files


def probe(cfg: argparse.Namespace, build: Path, pin: Pinning, tmp: Path) -> dict[str, str]:
    """Servers that cannot run here, with the reason: not built, not installed, or not starting
    (each real peer is started once up front)."""
    bad: dict[str, str] = {}
    for s in cfg.servers:
        if s in PEERS:
            prog = arch_peers.program(s)
            if prog is None:
                pkg = {"node": "nodejs"}.get(s, "apache2-bin" if s.startswith("apache")
                                             else "nginx")
                bad[s] = f"not installed (Debian package {pkg}; ./dev bench arch installs it)"
                continue
            if s == "nginx-proxy" and not os.access(build / "apps" / "http_server", os.X_OK):
                bad[s] = f"not built: {build / 'apps' / 'http_server'}"
                continue
            try:
                srv = start(s, cfg, build, pin, tmp, 100)
                srv.stop()
            except StartError as e:
                bad[s] = f"does not start: {e}"
        elif not os.access(server_argv(s, cfg, build)[0], os.X_OK):
            bad[s] = f"not built: {server_argv(s, cfg, build)[0]}"
    return bad


def main(argv: list[str]) -> int:
    cfg = parse_args(argv)
    # SIGTERM as Ctrl-C: the server of the current point is stopped by PID and the partial
    # results are written (without this, SIGTERM ended the harness and left that server running).
    signal.signal(signal.SIGTERM, _sigterm)
    repo = Path(__file__).resolve().parent.parent
    build = resolve_build(cfg.build, repo)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = Path(cfg.out) if cfg.out else repo / "results" / f"arch-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    pin = Pinning(cfg.server_cpu, cfg.load_cpu)
    for n in pin.notes:
        eprint(f"arch_bench: note: {n}")
    w = raise_nofile(max(cfg.connections + cfg.echo_connections) * 2)
    if w:
        eprint(f"arch_bench: warning: {w}")
    runs: list[dict[str, Any]] = []
    interrupted = False
    t0 = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="arch_bench-"))
    tmp.chmod(0o755)  # nginx's worker and httpd's children run as nobody when started as root
    try:
        unavailable = probe(cfg, build, pin, tmp)
        for s, why in unavailable.items():
            eprint(f"arch_bench: left out: {s}: {why}")
        cfg.servers = [s for s in cfg.servers if s not in unavailable]
        echo_load_ok = os.access(build / "bench" / "echo_load", os.X_OK)
        cfg.echo_servers = [s for s in ECHO_SERVERS if s in cfg.servers and os.access(
            server_argv(s, cfg, build, "echo")[0], os.X_OK)] if (
                echo_load_ok and cfg.echo_connections) else []
        if cfg.echo_connections and not echo_load_ok:
            eprint(f"arch_bench: echo table skipped: {build / 'bench' / 'echo_load'} not built")
        if not cfg.servers:
            eprint(f"arch_bench: error: none of the servers asked for can run (reasons above); "
                   f"build them with ./dev build release, or pass --build DIR")
            return 2
        lua = tmp / "report.lua"
        lua.write_text(WRK_REPORT_LUA)
        points = [(m, c) for m in cfg.modes for c in cfg.connections
                  if not (cfg.quick and "--connections" not in argv and (m, c) in QUICK_SKIP)]
        points += [("echo", c) for c in cfg.echo_connections if cfg.echo_servers]
        try:
            with open(out / "runs.jsonl", "a", encoding="utf-8") as log:
                for mode, conns in points:
                    rounds = cfg.rounds if mode == "echo" or cfg.rounds_at is None or \
                        conns in cfg.rounds_at else 1
                    for rnd in range(rounds):
                        # Interleaved: every server once per round, so that a noisy moment of
                        # the machine does not fall on one server's every run.
                        for name in (cfg.echo_servers if mode == "echo" else cfg.servers):
                            if mode == "echo":
                                rec = run_echo_point(cfg, name, build, pin, conns, rnd, tmp)
                            else:
                                rec = run_point(cfg, name, build, pin, lua, mode, conns, rnd, tmp)
                            runs.append(rec)
                            log.write(json.dumps(rec) + "\n")
                            log.flush()
                            eprint(f"arch_bench: {name} {mode} c={conns} r{rnd}: "
                                   + (f"{rec['req_per_s']:,.0f}/s, p99 {rec['p99_ms']:.1f} ms"
                                      if rec["ok"] else f"FAILED: {rec['reason']}"))
        except KeyboardInterrupt:
            interrupted = True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # No server runs any more: a SIGTERM now (plotting takes seconds) means "exit 130 once
    # table.md, the plots and results.json are written" (the measurements are complete), not a
    # KeyboardInterrupt in the middle of plotting that left no results.json.
    late: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: late.append(signum))
    elapsed = time.monotonic() - t0
    text = render_tables(runs, cfg, unavailable)
    text += f"\nwall time: {elapsed:.0f} s; load average at the end: {loadavg()}\n"
    (out / "table.md").write_text(text, encoding="utf-8")
    print(text)
    plot_files = write_plots(out, runs, cfg)
    results = {"settings": {k: v for k, v in vars(cfg).items()}, "pinning": pin.describe(),
               "machine": machine_info(repo), "runs": runs, "interrupted": interrupted,
               "unavailable": unavailable, "wall_s": round(elapsed, 1), "plots": plot_files,
               "medians": [v for v in medians(runs).values()]}
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    eprint(f"arch_bench: results in {out}/ ({elapsed:.0f} s)")
    return 130 if interrupted or late else (1 if any(not r["ok"] for r in runs) else 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
