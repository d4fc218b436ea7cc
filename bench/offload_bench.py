#!/usr/bin/env python3
"""offload_bench.py - does the thread pool keep the event loop responsive under CPU load?

coil's http_server answers `GET /cpu?kib=N` with the SHA-256 of N KiB of generated data (real CPU
work, libcrypto): inline on the event loop by default, on the thread pool with --offload. This
harness measures the latency of the cheap `GET /` ("Hello, World!") while other clients hammer
`/cpu`, without and with --offload, and (the third mode, "idle") with no /cpu load at all: the
machine's own latency floor, which offload cannot go below; and "offload-nice", --offload with
--pool-nice N (coil::pool_options::nice): the pool threads at a higher nice than the loop, which
gives the loop the larger share of their shared core. The modes run in the same
invocation, interleaved over rounds (the shown figures are medians over rounds). The goal
(issue 11): p99 of `/` at least 10x lower with offload.

One run (a mode, a round): the server starts fresh, pinned with taskset to --server-cpu (the
whole process: with --offload its pool threads run on that CPU too, so both modes get the same
one CPU, and offload cannot win by using a second core; --server-cpu -1 leaves it unpinned, the
pool then shares the machine with the load generators). Then, both on --load-cpu:
  load   wrk -t1 -c K on /cpu?kib=N: K clients, each sending its next request as soon as the
         previous one is answered (the background CPU load)
  probe  wrk -t1 -c P on / (percentiles from its Lua done() hook): the latency of a request
         the loop can answer at once; it starts --warmup seconds after the load and measures
         for --duration seconds while the load still runs (the load runs warmup + duration +
         1 s). Mode idle: the probe alone, no load
Both wrk are closed-loop (a client waits for its answer before sending again), so the probe's
percentiles are per completed request, not per intended send time (no coordinated-omission
correction): a stalled loop shows as few, slow requests.

Server CPU: CPU time (user + system, all threads) of the server over the probe's window, from
/proc/PID/task/*/schedstat, divided by the window: 1.00 is one core kept busy.

Outputs (in --out, default <repository>/results/offload-<UTC time>):
  results.json   all runs, per-mode medians, the p99 ratio, machine info and settings
  runs.jsonl     the runs, appended as they finish (survives an interrupted run)
  table.md       the markdown table that is also printed to stdout
  p99.png        GET / latency at p50, p90, p99 and p99.9 (medians over rounds), one line per
                 mode (also .svg)
  logs/          server and wrk output of every failed run

Exit status: 0 if every run succeeded, 1 if some failed (results are still written), 2 on a setup
error (wrk or http_server missing, bad arguments), 130 if interrupted (partial results written).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import hashlib
import http.client
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))
from echo_bench import (Pinning, Server, StartError, eprint, f_cpu, f_int, f_lat,  # noqa: E402
                        finish_run, machine_info, median_or_none, plot_or_warn, resolve_build,
                        run_all)
from http_bench import (children_cpu_s, cpu_ns, executable, finish_record, loadavg,  # noqa: E402
                        process_tree, program_version, write_failure_log)

MODES = ["inline", "offload", "offload-nice", "idle"]
MODE_TITLES = {"inline": "inline (on the loop)", "offload": "--offload (thread pool)",
               "offload-nice": "--offload --pool-nice N (pool threads at nice N)",
               "idle": "no /cpu load (the floor)"}
PLOT_LABELS = {"inline": "inline", "offload": "--offload", "offload-nice": "--offload --pool-nice",
               "idle": "no load (floor)"}
STYLES = {"inline": {"color": "#d62728"}, "offload": {"color": "#1f77b4"},
          "offload-nice": {"color": "#2ca02c"}, "idle": {"color": "#7f7f7f", "dash": "6 4"}}
TARGET_RATIO = 10.0
START_TIMEOUT_S = 15.0
ERROR_KINDS = ("connect", "read", "write", "timeout", "status")
PERCENTILES = (50, 90, 99, 99.9)

# wrk calls done() once at the end; it prints one JSON line that the harness reads (http_bench's
# report with more percentiles: p90 and p99.9 too, for the plot).
WRK_REPORT_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"duration_us": %d, "requests": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "p99.9_us": %d, ' ..
    '"max_us": %d}\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
"""


# ------------------------------------------------------------------------------------------------
# Arguments
# ------------------------------------------------------------------------------------------------

def positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer: {s!r}")
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {s!r}")
    return v


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="offload_bench.py",
        description="Latency of GET / on coil's http_server while K clients hammer "
                    "GET /cpu?kib=N (SHA-256), /cpu inline on the loop vs on the thread pool "
                    "(--offload), interleaved over rounds. Prints a markdown table; writes "
                    "results.json, table.md and a plot.",
        epilog="Example: ./dev bench offload --quick --kib 512 --load-connections 4")
    p.add_argument("--build", default="build/release", metavar="DIR",
                   help="meson build directory holding apps/http_server (default: build/release, "
                        "relative to the current directory, else to the repository root)")
    p.add_argument("--quick", action="store_true",
                   help="one round, the probe measuring 8 s after a 2 s warm-up (about 35 s)")
    p.add_argument("--rounds", type=positive_int, default=None, metavar="N",
                   help="rounds, each runs every mode (default 3; quick: 1)")
    p.add_argument("--duration", type=positive_int, default=None, metavar="S",
                   help="measured seconds of the probe per run (default 15; quick: 8)")
    p.add_argument("--warmup", type=int, default=2, metavar="S",
                   help="seconds the load runs before the probe starts (default 2)")
    p.add_argument("--kib", type=positive_int, default=1024, metavar="N",
                   help="KiB hashed per /cpu request (default 1024, at most 16384)")
    p.add_argument("--load-connections", type=positive_int, default=8, metavar="K",
                   help="concurrent /cpu clients (default 8)")
    p.add_argument("--probe-connections", type=positive_int, default=1, metavar="P",
                   help="concurrent GET / clients of the latency probe (default 1)")
    p.add_argument("--modes", default=",".join(MODES), metavar="LIST",
                   help="comma list of " + ",".join(MODES) + " (default: all four; offload-nice: "
                        "--offload with --pool-nice; idle: the probe alone, no /cpu load, the "
                        "machine's own latency floor)")
    p.add_argument("--backend", choices=["io_uring", "epoll"], default=None,
                   help="http_server's --backend (default: its own choice)")
    p.add_argument("--timeout", type=positive_int, default=10, metavar="S",
                   help="wrk's --timeout (default 10)")
    p.add_argument("--server-cpu", type=int, default=0, metavar="CPU",
                   help="CPU the server (all its threads) is pinned to (default 0); negative: "
                        "not pinned")
    p.add_argument("--load-cpu", type=int, default=1, metavar="CPU",
                   help="CPU both wrk are pinned to (default 1); negative: not pinned")
    p.add_argument("--pool-nice", type=int, default=10, metavar="N",
                   help="mode offload-nice: http_server --offload --pool-nice N, the pool "
                        "threads at nice N, 1 to 19 (default 10)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output directory (default <repository>/results/offload-<UTC time>)")
    p.add_argument("--wrk", default="wrk", metavar="PATH", help="wrk program (default: wrk)")
    a = p.parse_args(argv)

    q = a.quick
    if a.rounds is None:
        a.rounds = 1 if q else 3
    if a.duration is None:
        a.duration = 8 if q else 15
    if a.warmup < 0:
        p.error("--warmup must be >= 0")
    if not 1 <= a.pool_nice <= 19:
        p.error("--pool-nice must be from 1 to 19")
    if a.kib > 16384:
        p.error("--kib must be at most 16384 (http_server's limit)")
    a.modes = [m.strip() for m in a.modes.split(",") if m.strip()]
    if not a.modes or any(m not in MODES for m in a.modes) or len(set(a.modes)) != len(a.modes):
        p.error(f"--modes: a comma list of distinct names from {','.join(MODES)}")
    return a


# ------------------------------------------------------------------------------------------------
# One run
# ------------------------------------------------------------------------------------------------

def expected_digest(kib: int) -> str:
    """What /cpu?kib=N must answer (apps/cpu_work.hpp: byte i is (i * 131 + 7) mod 256)."""
    block = bytes((i * 131 + 7) % 256 for i in range(256))  # the pattern repeats every 256 bytes
    return hashlib.sha256(block * (kib * 4)).hexdigest()


def start_server(cfg: argparse.Namespace, build: Path, pin: Pinning, mode: str,
                 log: Path) -> Server:
    argv = pin.prefix(pin.server_cpu) + [str(build / "apps" / "http_server"), "--port", "0",
                                         "--keepalive-requests", "1000000"]
    if cfg.backend:
        argv += ["--backend", cfg.backend]
    if mode.startswith("offload"):
        argv.append("--offload")
    if mode == "offload-nice":
        argv += ["--pool-nice", str(cfg.pool_nice)]
    srv = Server(argv, log)
    try:
        srv.wait_listening(START_TIMEOUT_S)
    except StartError:
        srv.stop()
        raise
    return srv


def check_server(host: str, port: int, kib: int) -> None:
    """GET / and GET /cpu?kib=N answer as expected (checked once per run, before the load)."""
    want = {"/": b"Hello, World!", f"/cpu?kib={kib}": (expected_digest(kib) + "\n").encode()}
    for path, body in want.items():
        c = http.client.HTTPConnection(host, port, timeout=10)
        try:
            c.request("GET", path)
            r = c.getresponse()
            got = r.read()
            if r.status != 200 or got != body:
                raise StartError(f"GET {path} answered {r.status} {got[:70]!r}, expected 200 "
                                 f"{body[:70]!r}")
        finally:
            c.close()


def wrk_argv(cfg: argparse.Namespace, pin: Pinning, lua: Path, url: str, conns: int,
             seconds: int) -> list[str]:
    return pin.prefix(pin.load_cpu) + [cfg.wrk, "-t1", f"-c{conns}", f"-d{seconds}s",
                                       "--timeout", f"{cfg.timeout}s", "-s", str(lua), url]


def wrk_report(proc: subprocess.Popen, out: Path, what: str) -> dict[str, Any]:
    text = out.read_text(errors="replace")
    if proc.returncode != 0:
        last = [ln for ln in text.strip().splitlines() if ln.strip()]
        raise StartError(f"{what} wrk exit code {proc.returncode}"
                         + (f": {last[-1]}" if last else ""))
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                break
    raise StartError(f"{what} wrk printed no report line (the Lua done() hook)")


def wait_or_kill(proc: subprocess.Popen, timeout: float) -> None:
    """Waits for proc; past the timeout kills it by its PID (and reaps it)."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)
        raise StartError(f"wrk (PID {proc.pid}) did not end within {timeout:.0f} s (killed)")


def run_one(cfg: argparse.Namespace, build: Path, pin: Pinning, lua: Path, mode: str, rnd: int,
            tmp: Path, logdir: Path) -> dict[str, Any]:
    rec: dict[str, Any] = {"round": rnd, "mode": mode, "ok": False, "reason": None,
                           "loadavg_before": loadavg()}
    t0 = time.monotonic()
    srv: Server | None = None
    procs: list[subprocess.Popen] = []
    load_out, probe_out = tmp / f"load-{rnd}-{mode}.txt", tmp / f"probe-{rnd}-{mode}.txt"
    try:
        srv = start_server(cfg, build, pin, mode, tmp / f"server-{rnd}-{mode}.log")
        host, port = srv.listen
        rec["server_pid"] = srv.pid
        rec["server_cmd"] = shlex.join(srv.argv)
        check_server(host, port, cfg.kib)
        base = f"http://{host}:{port}"
        load_s = cfg.warmup + cfg.duration + 1  # outlasts the probe
        with_load = mode != "idle"
        load_argv = wrk_argv(cfg, pin, lua, f"{base}/cpu?kib={cfg.kib}", cfg.load_connections,
                             load_s)
        probe_argv = wrk_argv(cfg, pin, lua, f"{base}/", cfg.probe_connections, cfg.duration)
        rec["load_cmd"], rec["probe_cmd"] = shlex.join(load_argv), shlex.join(probe_argv)
        if not with_load:
            rec["load_cmd"] = None
        cpu_before = children_cpu_s()
        load = None
        if with_load:
            with open(load_out, "wb") as lo:
                load = subprocess.Popen(load_argv, stdin=subprocess.DEVNULL, stdout=lo,
                                        stderr=subprocess.STDOUT)
            procs.append(load)
        time.sleep(cfg.warmup)
        if load is not None and load.poll() is not None:
            raise StartError(f"load wrk ended early (exit code {load.returncode}): "
                             + load_out.read_text(errors="replace").strip()[-300:])
        pids = list(process_tree(srv.pid))
        c0, w0 = cpu_ns(pids), time.monotonic()
        with open(probe_out, "wb") as po:
            probe = subprocess.Popen(probe_argv, stdin=subprocess.DEVNULL, stdout=po,
                                     stderr=subprocess.STDOUT)
        procs.append(probe)
        wait_or_kill(probe, cfg.duration + cfg.timeout + 30)
        c1, w1 = cpu_ns(pids), time.monotonic()
        if load is not None:
            wait_or_kill(load, load_s + cfg.timeout + 30)
        rec["wrk_cpu_s"] = children_cpu_s() - cpu_before  # both wrk, reaped here
        if srv.proc.poll() is not None:
            raise StartError(f"server exited during the run (exit code {srv.proc.returncode})")
        pr = wrk_report(probe, probe_out, "probe")
        lr = wrk_report(load, load_out, "load") if load is not None else None
        rec["probe"], rec["load"] = pr, lr
        if not pr["requests"] or not pr["duration_us"]:
            raise StartError("the probe completed no request")
        rec.update({
            "ok": True,
            "probe_requests": pr["requests"],
            **{f"p{q:g}_us": float(pr[f"p{q:g}_us"]) for q in PERCENTILES},
            "max_us": float(pr["max_us"]),
            "probe_req_per_s": pr["requests"] * 1e6 / pr["duration_us"],
            "cpu_req_per_s": (lr["requests"] * 1e6 / lr["duration_us"]
                              if lr and lr["duration_us"] else None),
            "cpu_p99_us": float(lr["p99_us"]) if lr else None,
            "server_cpu": (c1 - c0) / 1e9 / (w1 - w0),  # cores kept busy over the probe
            "server_threads": len(os.listdir(f"/proc/{srv.pid}/task")),  # it still runs
            "errors": {f"{who} {k}": int(r.get(k, 0)) for who, r in (("probe", pr), ("load", lr))
                       if r for k in ERROR_KINDS if r.get(k)},
        })
    except StartError as e:
        rec["reason"] = str(e)
    except Exception as e:  # one run must not end the whole benchmark
        rec["reason"] = f"harness error: {type(e).__name__}: {e}"
    finally:
        for p in procs:  # every wrk stopped by its PID, also when interrupted
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=10)
        finish_record(rec, srv, t0)
    if not rec["ok"]:
        def write_more(f: TextIO) -> None:
            for what, path in (("load", load_out), ("probe", probe_out)):
                if rec.get(f"{what}_cmd"):
                    f.write(f"\n{what} command: {rec[what + '_cmd']}\n")
                if path.exists():
                    f.write(f"--- {what} wrk output (tail) ---\n"
                            + path.read_text(errors="replace")[-4000:] + "\n")

        write_failure_log(rec, logdir / f"r{rnd}-{mode}.log", srv, write_more)
    return rec


# ------------------------------------------------------------------------------------------------
# Aggregation, table, plot
# ------------------------------------------------------------------------------------------------

METRICS = (*(f"p{q:g}_us" for q in PERCENTILES), "max_us", "probe_req_per_s", "cpu_req_per_s",
           "cpu_p99_us",
           "server_cpu")


def aggregate(runs: list[dict[str, Any]], modes: list[str]) -> dict[str, dict[str, Any]]:
    med = {}
    for m in modes:
        rs = [r for r in runs if r["mode"] == m]
        ok = [r for r in rs if r["ok"]]
        errs: dict[str, int] = {}
        for r in ok:
            for k, v in r["errors"].items():
                errs[k] = errs.get(k, 0) + v
        med[m] = {"mode": m, "runs": len(rs), "ok_runs": len(ok),
                  **{k: median_or_none([r[k] for r in ok]) for k in METRICS},
                  "server_threads": max((r["server_threads"] or 0 for r in ok), default=None),
                  "errors": errs, "failures": [r["reason"] for r in rs if not r["ok"]],
                  "warnings": [r["warning"] for r in rs if r.get("warning")]}
    return med


def p99_ratio(med: dict[str, dict[str, Any]], mode: str = "offload") -> float | None:
    a, b = (med.get("inline") or {}).get("p99_us"), (med.get(mode) or {}).get("p99_us")
    return a / b if a and b else None


def fmt_load(la: list[float] | None) -> str:
    return "unknown" if la is None else " / ".join(f"{x:.2f}" for x in la)


def render_table(meta: dict[str, Any], cfg: argparse.Namespace, pin: Pinning,
                 med: dict[str, dict[str, Any]], runs: list[dict[str, Any]], notes: list[str],
                 load_start: list[float] | None, load_end: list[float] | None) -> str:
    L = ["# coil offload benchmark: GET / under CPU load, /cpu inline vs on the thread pool", ""]
    L.append(f"- machine: {meta['cpu_model']}, {meta['nproc']} CPUs usable, {meta['uname']}, "
             f"host {meta['hostname']}")
    L.append(f"- commit {meta['git_commit']}, {meta['date_utc']}; command: `{meta['command']}`")
    L.append(f"- load average (1/5/15 min) at start {fmt_load(load_start)}, at end "
             f"{fmt_load(load_end)} (the machine is shared: figures move with it)")
    L.append(f"- load: wrk -t1 -c{cfg.load_connections} on GET /cpu?kib={cfg.kib} (SHA-256 of "
             f"{cfg.kib} KiB per request); probe: wrk -t1 -c{cfg.probe_connections} on GET / "
             f"for {cfg.duration} s, starting {cfg.warmup} s after the load; "
             f"{cfg.rounds} round(s), the modes interleaved, medians over rounds")
    L.append(f"- pinning: {pin.describe()}; with --offload the pool threads run wherever the "
             + ("server is pinned (the same CPU as the loop: both modes get one CPU)"
                if pin.server_cpu is not None else "scheduler puts them (the server is not "
                "pinned: the pool threads share the cores with both wrk)"))
    if "offload-nice" in cfg.modes:
        L.append(f"- offload-nice: the pool threads at nice {cfg.pool_nice} (http_server "
                 "--pool-nice, coil::pool_options::nice), the loop at the server's own")
    if meta.get("versions"):
        L.append("- " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
    for n in notes:
        L.append(f"- note: {n}")
    L.append("")
    L.append("| /cpu runs | GET / p50 µs | GET / p99 µs | GET / p99.9 µs | GET / max µs | "
             "GET / req/s | /cpu req/s | /cpu p99 µs | server CPU (cores) | threads | runs ok | "
             "errors |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for m in cfg.modes:
        r = med[m]
        errs = [f"{k} {v:,}" for k, v in sorted(r["errors"].items())]
        if r["failures"]:
            errs.append(f"{len(r['failures'])} failed: {r['failures'][0]}")
        if r["warnings"]:
            errs.append(f"{len(r['warnings'])} unclean stop(s): {r['warnings'][0]}")
        L.append(f"| {MODE_TITLES[m]} | {f_lat(r['p50_us'])} | {f_lat(r['p99_us'])} | "
                 f"{f_lat(r['p99.9_us'])} | {f_lat(r['max_us'])} | {f_int(r['probe_req_per_s'])} | "
                 f"{f_int(r['cpu_req_per_s'])} | {f_lat(r['cpu_p99_us'])} | "
                 f"{f_cpu(r['server_cpu'])} | {r['server_threads'] or '—'} | "
                 f"{r['ok_runs']}/{r['runs']} | " + ("; ".join(errs).replace("|", "\\|") or "—")
                 + " |")
    L.append("")
    ratio = p99_ratio(med)
    if ratio is not None:
        L.append(f"p99 of GET /, inline / offload: **{ratio:.1f}x** (goal ≥ {TARGET_RATIO:.0f}x: "
                 + ("met" if ratio >= TARGET_RATIO else "missed") + ")")
        L.append("")
    nice_ratio = p99_ratio(med, "offload-nice")
    if nice_ratio is not None:
        L.append(f"p99 of GET /, inline / offload with --pool-nice {cfg.pool_nice}: "
                 f"**{nice_ratio:.1f}x** (goal ≥ {TARGET_RATIO:.0f}x: "
                 + ("met" if nice_ratio >= TARGET_RATIO else "missed") + ")")
        L.append("")
    floor = (med.get("idle") or {}).get("p99_us")
    if floor:
        L.append(f"p99 of GET / without the /cpu load (the machine's floor at the time): "
                 f"{f_lat(floor)} µs" + "".join(
                     f"; {m} / floor {med[m]['p99_us'] / floor:.1f}x" for m in ("inline", "offload", "offload-nice")
                     if (med.get(m) or {}).get("p99_us")) + ". With offload, p99 of GET / cannot "
                 "go below the floor: the inline / offload ratio is at most inline / floor.")
        L.append("")
    per = [r for r in runs if r["ok"]]
    if len(per) > len(cfg.modes):
        L.append("Per round, p99 of GET / µs: " + "; ".join(
            f"round {rnd}: " + ", ".join(f"{r['mode']} {f_lat(r['p99_us'])}"
                                         for r in per if r["round"] == rnd)
            for rnd in sorted({r["round"] for r in per})) + ".")
        L.append("")
    L.append("GET / latency: wrk's percentiles over the probe's completed requests (closed loop: "
             "no coordinated-omission correction). /cpu req/s and p99: the load wrk over its "
             "whole run. Server CPU: CPU time of all its threads over the probe's window / that "
             "window (1.00 = one core busy). threads: the server's threads (loop + pool).")
    return "\n".join(L)


def write_plot(out: Path, cfg: argparse.Namespace, med: dict[str, dict[str, Any]],
               meta: dict[str, Any]) -> list[str]:
    import plots  # here, not at the top: without matplotlib the measurements are still written

    # x: "1 in N requests is slower" (p50 -> 2, p99 -> 100), on a log axis.
    series = {PLOT_LABELS[m]: [(100 / (100 - q), med[m][f"p{q:g}_us"]) for q in PERCENTILES]
              for m in cfg.modes}
    styles = {PLOT_LABELS[m]: STYLES[m] for m in cfg.modes}
    ratio = p99_ratio(med)
    sub = (f"{cfg.load_connections} clients on /cpu?kib={cfg.kib} · server on CPU "
           f"{meta['server_cpu']} · load avg {meta['load']}"
           + (f" · p99 inline/offload {ratio:.1f}x" if ratio else ""))
    panel = {"title": f"commit {meta['git_commit']}, {meta['date_utc']}",
             "x_label": "1 in N requests is slower (2: p50, 10: p90, 100: p99, 1k: p99.9)",
             "y_label": "GET / latency µs (log)", "series": series, "log_y": True}
    return plots.multi_plot(out / "p99", "GET / latency under /cpu load", [panel], ncols=1,
                            styles=styles, subtitle=sub)


# ------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------

def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # stop the current run, write partial results, exit 130


def main(argv: list[str]) -> int:
    cfg = parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    repo = Path(__file__).resolve().parent.parent
    build = resolve_build(cfg.build, repo)
    server = build / "apps" / "http_server"
    if not executable(cfg.wrk):
        eprint(f"offload_bench: wrk not found ({cfg.wrk}); install Debian's wrk "
               "(./dev bench offload does)")
        return 2
    if not os.access(server, os.X_OK):
        eprint(f"offload_bench: {server} not found (build it: ./dev build release, or pass "
               "--build)")
        return 2
    pin = Pinning(cfg.server_cpu, cfg.load_cpu)
    for n in pin.notes:
        eprint(f"offload_bench: note: {n}")

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = (Path(cfg.out) if cfg.out else repo / "results" / f"offload-{stamp}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    logdir = out / "logs"
    meta = machine_info(repo)
    v = program_version([cfg.wrk, "-v"])
    meta["versions"] = {"wrk": v} if v else {}
    load_start = loadavg()
    notes: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="offload_bench-"))
    lua = tmp / "report.lua"
    lua.write_text(WRK_REPORT_LUA)

    total = cfg.rounds * len(cfg.modes)
    est = total * (cfg.warmup + cfg.duration + 2)
    eprint(f"offload_bench: {len(cfg.modes)} mode(s) x {cfg.rounds} round(s) = {total} runs, "
           f"about {est:.0f} s; load average {fmt_load(load_start)}")
    def jobs() -> Iterable[tuple[str, Callable[[], dict[str, Any]]]]:
        idx = 0
        for rnd in range(1, cfg.rounds + 1):
            # Interleaved, and the order alternates per round: neither mode always goes first.
            for mode in (cfg.modes if rnd % 2 else list(reversed(cfg.modes))):
                idx += 1
                yield (f"[{idx}/{total}] round {rnd} {mode}:",
                       functools.partial(run_one, cfg, build, pin, lua, mode, rnd, tmp, logdir))

    def ok_text(rec: dict[str, Any]) -> str:
        return (f"GET / p50 {f_lat(rec['p50_us'])}us p99 {f_lat(rec['p99_us'])}us "
                f"({rec['probe_req_per_s']:,.0f} req/s), /cpu {f_int(rec['cpu_req_per_s'])} req/s, "
                f"server CPU {rec['server_cpu']:.2f}")

    runs, interrupted = run_all("offload_bench", out, tmp, jobs(), ok_text)

    load_end = loadavg()
    if interrupted:
        notes.append(f"interrupted after {len(runs)} of {total} runs")
    med = aggregate(runs, cfg.modes)
    table = render_table(meta, cfg, pin, med, runs, notes, load_start, load_end)
    print(table, flush=True)
    (out / "table.md").write_text(table + "\n", encoding="utf-8")

    def plot() -> list[str]:
        if not any(r["ok"] for r in runs):
            raise ValueError("no run succeeded: nothing to plot")
        return write_plot(out, cfg, med, {
            **meta, "load": fmt_load(load_start),
            "server_cpu": pin.server_cpu if pin.server_cpu is not None else "any"})

    plot_files = plot_or_warn("offload_bench", plot)

    results = {
        "schema": 1,
        "machine": meta,
        "config": {"build": str(build), "rounds": cfg.rounds, "duration_s": cfg.duration,
                   "warmup_s": cfg.warmup, "kib": cfg.kib,
                   "load_connections": cfg.load_connections,
                   "probe_connections": cfg.probe_connections, "modes": cfg.modes,
                   "backend": cfg.backend, "pool_nice": cfg.pool_nice,
                   "wrk_timeout_s": cfg.timeout, "quick": cfg.quick,
                   "pinning": {"taskset": pin.taskset, "server_cpu": pin.server_cpu,
                               "load_cpu": pin.load_cpu, "notes": pin.notes}},
        "loadavg_start": load_start, "loadavg_end": load_end,
        "notes": notes,
        "interrupted": interrupted,
        "runs": runs,
        "medians": list(med.values()),
        "p99_ratio_inline_over_offload": p99_ratio(med),
        "p99_ratio_inline_over_offload_nice": p99_ratio(med, "offload-nice"),
        "target_ratio": TARGET_RATIO,
        "unavailable_servers": {},
        "files": ["results.json", "runs.jsonl", "table.md", *plot_files],
    }
    return finish_run("offload_bench", out, results, plot_files)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
