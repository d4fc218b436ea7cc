#!/usr/bin/env python3
"""arch_bench.py - the classic server architectures side by side with coil, over HTTP (issue 12).

A FIRST VERSION: the baselines of bench/baselines/ and coil's http_server only (io_uring and
epoll); the real peers (nginx, Apache's MPMs, Node.js, asyncio), the nginx-fronted pair, the echo
table and docs/architectures.md are still to come.

For every point (mode x connections) each server is started fresh, pinned to --server-cpu, and
measured by one wrk run (one thread, pinned to --load-cpu), as the classic runs were. Modes:
  keepalive  every connection sends its requests one after another
  close      every request carries "Connection: close": a TCP connection per request
Per point: requests/s, p50/p99 latency, errors and timeouts (wrk's), server CPU (all its processes
and threads, reaped children included), peak RSS (all its processes, sampled every 100 ms).
Latency percentiles cover answered requests only: a connection that is never served (a full
pool, the iterative server with keep-alive) shows as wrk timeouts, which is why --duration must
exceed --timeout.

Limits, so that a collapse is recorded as the server's failure mode instead of hurting the
machine: a watchdog samples the server's process tree and kills it (by PID, every process of it)
when its RSS passes --max-rss-mib or its processes + threads pass --max-tasks; the run is then
recorded as "killed: ...". Every process a server leaves behind is killed by its PID.

Outputs (in --out, default <repository>/results/arch-<UTC timestamp>): results.json, runs.jsonl,
table.md (rows = connections, columns = servers, as the classic table), and plots
(req_per_s, p99_ms, rss_mib; .png and .svg) when matplotlib is installed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from echo_bench import Pinning, Server, StartError, eprint, machine_info, resolve_build  # noqa: E402
from http_bench import (WRK_REPORT_LUA, ERROR_KINDS, cpu_ns, loadavg, proc_stat,  # noqa: E402
                        process_tree, run_wrk)

BASELINES = ["iterative", "forking", "preforked", "threaded", "prethreaded", "poll", "epoll"]
SERVERS = [f"baseline-{b}" for b in BASELINES] + ["coil-uring", "coil-epoll"]
MODES = ["keepalive", "close"]
CONNECTIONS = [20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 15000]
QUICK_CONNECTIONS = [20, 100, 1000]
START_TIMEOUT_S = 15.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="arch_bench.py", description=__doc__.split("\n\n")[0],
                                epilog="Example: ./dev bench arch --quick")
    p.add_argument("--build", default="build/release", help="build dir (default build/release)")
    p.add_argument("--servers", default=",".join(SERVERS), help="comma-separated subset of "
                   + ", ".join(SERVERS))
    p.add_argument("--modes", default=",".join(MODES), help="keepalive,close (default both)")
    p.add_argument("--connections", default=None,
                   help="comma-separated list (default " + ",".join(map(str, CONNECTIONS)) + ")")
    p.add_argument("--duration", type=int, default=5, help="seconds per point (default 5)")
    p.add_argument("--timeout", type=int, default=2, help="wrk's request timeout in s (default 2)")
    p.add_argument("--workers", type=int, default=None,
                   help="pool size of the preforked and prethreaded baselines (default: theirs)")
    p.add_argument("--max-rss-mib", type=int, default=2048, help="watchdog: RSS of a server's "
                   "processes (default 2048)")
    p.add_argument("--max-tasks", type=int, default=20000, help="watchdog: processes + threads "
                   "of a server (default 20000)")
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--load-cpu", type=int, default=1)
    p.add_argument("--wrk", default="wrk")
    p.add_argument("--quick", action="store_true", help="connections 20,100,1000 for 3 s each")
    p.add_argument("--out", default=None)
    cfg = p.parse_args(argv)
    cfg.servers = [s for s in cfg.servers.split(",") if s]
    cfg.modes = [m for m in cfg.modes.split(",") if m]
    for s in cfg.servers:
        if s not in SERVERS:
            p.error(f"unknown server '{s}'")
    for m in cfg.modes:
        if m not in MODES:
            p.error(f"unknown mode '{m}'")
    if cfg.connections:
        cfg.connections = [int(c) for c in cfg.connections.split(",") if c]
    else:
        cfg.connections = QUICK_CONNECTIONS if cfg.quick else CONNECTIONS
    if cfg.quick:
        cfg.duration = min(cfg.duration, 3)
    if cfg.duration <= cfg.timeout:
        # wrk counts a request as timed out only once it has waited --timeout: a connection that
        # a full pool never serves is invisible in a shorter run.
        p.error("--duration must be longer than --timeout")
    return cfg


def server_argv(name: str, cfg: argparse.Namespace, build: Path) -> list[str]:
    if name.startswith("coil-"):
        return [str(build / "apps" / "http_server"), "--port", "0", "--backend",
                "io_uring" if name == "coil-uring" else "epoll"]
    base = name.removeprefix("baseline-")
    argv = [str(build / "bench" / "baselines" / f"baseline_{base}"), "--port", "0",
            "--protocol", "http"]
    if cfg.workers and base in ("preforked", "prethreaded"):
        argv += ["--workers", str(cfg.workers)]
    return argv


def tree_usage(root: int) -> tuple[dict[int, str], int, int]:
    """(process tree, RSS in bytes, processes + threads) of a server."""
    tree = process_tree(root)
    rss = tasks = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for pid in tree:
        f = proc_stat(pid)
        if f and len(f) > 21:
            rss += int(f[21]) * page
            tasks += int(f[17])  # num_threads
    return tree, rss, tasks


class Watchdog(threading.Thread):
    """Samples a server's tree every 100 ms: peak RSS, peak tasks, every PID seen (to kill any
    that is left behind), and kills the whole tree when it passes a limit."""

    def __init__(self, root: int, max_rss: int, max_tasks: int):
        super().__init__(daemon=True)
        self.root, self.max_rss, self.max_tasks = root, max_rss, max_tasks
        self.peak_rss = self.peak_tasks = 0
        self.seen: dict[int, str] = {}
        self.killed: str | None = None
        self.cutime_ticks = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.1):
            self.sample()

    def sample(self) -> None:
        tree, rss, tasks = tree_usage(self.root)
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


def reaped_children_cpu_ns(pid: int) -> int:
    """CPU of the children a server has reaped (cutime + cstime): a forking server's work."""
    f = proc_stat(pid)
    if not f or len(f) < 15:
        return 0
    return (int(f[13]) + int(f[14])) * 10**9 // os.sysconf("SC_CLK_TCK")


def run_point(cfg: argparse.Namespace, name: str, build: Path, pin: Pinning, lua: Path,
              mode: str, conns: int, tmp: Path) -> dict[str, Any]:
    rec: dict[str, Any] = {"server": name, "mode": mode, "connections": conns, "ok": False,
                           "reason": None, "loadavg_before": loadavg()}
    srv = None
    dog = None
    try:
        srv = Server(pin.prefix(pin.server_cpu) + server_argv(name, cfg, build),
                     tmp / f"{name}.log")
        host, port = srv.wait_listening(START_TIMEOUT_S)
        dog = Watchdog(srv.pid, cfg.max_rss_mib << 20, cfg.max_tasks)
        dog.sample()
        dog.start()
        argv = pin.prefix(pin.load_cpu) + [cfg.wrk, "-t1", f"-c{conns}", f"-d{cfg.duration}s",
                                           "--timeout", f"{cfg.timeout}s", "-s", str(lua)]
        if mode == "close":
            argv += ["-H", "Connection: close"]
        argv.append(f"http://{host}:{port}/")
        pids = list(process_tree(srv.pid))
        cpu0 = cpu_ns(pids) + reaped_children_cpu_ns(srv.pid)
        result, _ = run_wrk(argv, cfg.duration, conns)
        dog.sample()
        pids = sorted(set(pids) | set(dog.seen))
        cpu1 = cpu_ns(pids) + reaped_children_cpu_ns(srv.pid)
        rec.update({"peak_rss_mib": round(dog.peak_rss / 2**20, 1), "peak_tasks": dog.peak_tasks,
                    "server_cpu_s": round((cpu1 - cpu0) / 1e9, 3)})
        if dog.killed:
            raise StartError(f"killed by the watchdog: {dog.killed}")
        if srv.proc.poll() is not None:
            raise StartError(f"server exited during the run (exit code {srv.proc.poll()})")
        if result is None or not result["requests"] or not result["duration_us"]:
            raise StartError("no request completed" + (f" (wrk: {result})" if result else ""))
        reqs, dur_us = result["requests"], result["duration_us"]
        rec.update({
            "ok": True,
            "req_per_s": reqs * 1e6 / dur_us,
            "p50_ms": result["p50_us"] / 1e3,
            "p99_ms": result["p99_us"] / 1e3,
            "errors": {k: int(result.get(k, 0)) for k in ERROR_KINDS if result.get(k)},
            "cpu_us_per_req": (cpu1 - cpu0) / 1e3 / reqs,
        })
    except StartError as e:
        rec["reason"] = str(e)
    except Exception as e:  # one point must not end the whole run
        rec["reason"] = f"harness error: {type(e).__name__}: {e}"
    finally:
        if dog is not None:
            dog.stop()
        if srv is not None:
            seen = dict(dog.seen) if dog else {}
            seen.update(process_tree(srv.pid))
            rc, how = srv.stop()
            rec["server_exit"], rec["server_stop"] = rc, how
            left = kill_pids({p: s for p, s in seen.items() if p != srv.pid})
            if left:
                rec["leftover_killed"] = left
        rec["loadavg_after"] = loadavg()
    return rec


def cell(rec: dict[str, Any] | None, key: str, fmt: str) -> str:
    if rec is None or rec.get(key) is None:
        return "" if rec is None or rec["ok"] else "fail"
    if key == "peak_rss_mib":  # shown for a failed point too: it may be why it failed
        return format(rec[key], fmt) + ("" if rec["ok"] else " (fail)")
    errors = sum(rec.get("errors", {}).values())
    return format(rec[key], fmt) + (f" ({errors:,} err)" if errors else "")


def render_tables(runs: list[dict[str, Any]], cfg: argparse.Namespace) -> str:
    by = {(r["server"], r["mode"], r["connections"]): r for r in runs}
    lines = []
    for mode in cfg.modes:
        for key, fmt, title in (("req_per_s", ",.0f", "requests/s"), ("p99_ms", ".1f", "p99 ms"),
                                ("peak_rss_mib", ".1f", "peak RSS MiB")):
            lines += [f"### {title}, {mode}", "",
                      "| connections | " + " | ".join(cfg.servers) + " |",
                      "|---:|" + "---:|" * len(cfg.servers)]
            for c in cfg.connections:
                row = [cell(by.get((s, mode, c)), key, fmt) for s in cfg.servers]
                lines.append(f"| {c:,} | " + " | ".join(row) + " |")
            lines.append("")
    failures = [f"- {r['server']} {r['mode']} c={r['connections']}: {r['reason']}"
                for r in runs if not r["ok"]]
    if failures:
        lines += ["### failed points", ""] + failures + [""]
    return "\n".join(lines)


def write_plots(out: Path, runs: list[dict[str, Any]], cfg: argparse.Namespace) -> list[str]:
    try:
        from plots import multi_plot
    except ImportError:
        return []
    files = []
    for key, title, label in (("req_per_s", "requests/s", "requests/s"),
                              ("p99_ms", "p99 latency", "ms"),
                              ("peak_rss_mib", "peak RSS", "MiB")):
        panels = []
        for mode in cfg.modes:
            series = {s: [(r["connections"], r.get(key) if r["ok"] or key == "peak_rss_mib"
                           else None) for r in runs if r["server"] == s and r["mode"] == mode]
                      for s in cfg.servers}
            panels.append({"title": f"{title}, {mode}", "x_label": "connections",
                           "y_label": label, "series": series, "log_x": True})
        files += multi_plot(out / key, f"{title} by connections", panels, ncols=len(panels))
    return files


def main(argv: list[str]) -> int:
    cfg = parse_args(argv)
    repo = Path(__file__).resolve().parent.parent
    build = resolve_build(cfg.build, repo)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = Path(cfg.out) if cfg.out else repo / "results" / f"arch-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    pin = Pinning(cfg.server_cpu, cfg.load_cpu)
    for n in pin.notes:
        eprint(f"arch_bench: note: {n}")
    missing = [s for s in cfg.servers if not os.access(server_argv(s, cfg, build)[0], os.X_OK)]
    if missing:
        eprint(f"arch_bench: not built, skipped: {', '.join(missing)}")
        cfg.servers = [s for s in cfg.servers if s not in missing]
    if not cfg.servers:
        return 2
    runs: list[dict[str, Any]] = []
    interrupted = False
    with tempfile.TemporaryDirectory(prefix="arch_bench-") as td:
        tmp = Path(td)
        lua = tmp / "report.lua"
        lua.write_text(WRK_REPORT_LUA)
        try:
            with open(out / "runs.jsonl", "a", encoding="utf-8") as log:
                for mode in cfg.modes:
                    for conns in cfg.connections:
                        for name in cfg.servers:
                            rec = run_point(cfg, name, build, pin, lua, mode, conns, tmp)
                            runs.append(rec)
                            log.write(json.dumps(rec) + "\n")
                            log.flush()
                            eprint(f"arch_bench: {name} {mode} c={conns}: "
                                   + (f"{rec['req_per_s']:,.0f} req/s, p99 {rec['p99_ms']:.1f} ms"
                                      if rec["ok"] else f"FAILED: {rec['reason']}"))
        except KeyboardInterrupt:
            interrupted = True
    table = render_tables(runs, cfg)
    (out / "table.md").write_text(table + "\n", encoding="utf-8")
    print(table)
    plot_files = write_plots(out, runs, cfg)
    results = {"settings": {k: v for k, v in vars(cfg).items()}, "pinning": pin.describe(),
               "machine": machine_info(repo), "runs": runs, "interrupted": interrupted,
               "plots": plot_files}
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    eprint(f"arch_bench: results in {out}/")
    return 130 if interrupted else (1 if any(not r["ok"] for r in runs) else 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
