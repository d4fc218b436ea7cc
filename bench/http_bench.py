#!/usr/bin/env python3
"""http_bench.py - "Hello, World!" over HTTP/1.1: coil's http_server against nginx and h2o.

The load generator is wrk (Debian's), one thread. For every point (mode x connections) the
servers run interleaved (coil on io_uring, coil on epoll, nginx, h2o), for several rounds;
medians are shown. Each run starts the server fresh, pinned to --server-cpu with taskset, warms
it up with one wrk run (--warmup seconds), then measures with a second wrk run (--duration
seconds) pinned to --load-cpu. Two modes:
  keepalive  wrk's default: every connection stays open and sends its requests one after another
  close      every request carries "Connection: close": a TCP connection per request (the
             classic measurement); wrk reconnects after each response

The peers, configured alike (one worker, no access log, 1,000,000 requests per connection):
  nginx  Debian's nginx, `return 200 "Hello, World!"`; its config is generated into a temporary
         directory (pid file, error log and temp paths there too), started in the foreground
         (daemon off) with master_process on, the production layout: the master only forks the
         one worker and waits for signals, and the CPU of both is counted. Stopped by PID
         (SIGTERM, then SIGKILL), never through the system's nginx service.
  h2o    Debian's h2o, num-threads: 1, serving a 13-byte file with file.file (h2o's static-file
         path; its mruby handler costs more CPU per request), config in the temporary directory.

Server CPU per request: the CPU time (user + system) of the server's processes (all of nginx's
and h2o's) over the measured wrk run, divided by the requests wrk completed. It is read from
/proc/PID/task/*/schedstat (the scheduler's run time in ns, the sum that utime+stime report in
clock ticks). The window includes wrk's connection set-up, which matters at 10,000 connections.

Outputs (in --out, default <repository>/results/http-<UTC timestamp>):
  results.json   all raw runs, per-(mode, server, connections) medians, machine info, settings
  runs.jsonl     the raw runs, appended as they finish (survives an interrupted run)
  table.md       the markdown tables that are also printed to stdout
  req_per_s.png  requests/s vs connections, one panel per mode, one line per server
  cpu_per_req.png, p99_us.png, summary.png (coil / nginx ratios); each also as .svg
  logs/          server and wrk output of every failed run

Exit status: 0 if every run succeeded, 1 if some runs failed or a server could not be started
(results are still written), 2 on a setup error (wrk or every server missing), 130 if
interrupted (partial results are written).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import http.client
import json
import math
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))
# Shared with the echo harness: process handling, pinning, machine info, number formats.
from echo_bench import (Pinning, Server, StartError, eprint, f_cpu, f_int, f_lat, finish_run,  # noqa: E402
                        f_ratio, int_list, machine_info, median_or_none, name_list, plot_or_warn,
                        raise_nofile, resolve_build, run_all)

# coil-uring-2t: http_server --threads 2 (two io_uring loops, one SO_REUSEPORT listener each). Two
# threads cannot live on one CPU: it runs on the server's and wrk's CPUs, so on a 2-core machine it
# shares a core with the load generator (the tables say so).
SERVERS = ["coil-uring", "coil-epoll", "nginx", "h2o", "coil-uring-2t"]
COIL = ["coil-uring", "coil-epoll", "coil-uring-2t"]
REFERENCE = "nginx"
MODES = ["keepalive", "close"]
MODE_TITLES = {"keepalive": "keep-alive", "close": "Connection: close (a connection per request)"}
BODY = b"Hello, World!"
REQUESTS_PER_CONNECTION = 1_000_000  # for every server: keep-alive is never cut short
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
TARGET_POINTS = (100, 1000)
TARGET_RPS = 1.2
TARGET_CPU = 0.85
STYLES = {
    "coil-uring": {"color": "#1f77b4"},
    "coil-epoll": {"color": "#2ca02c"},
    "nginx": {"color": "#d62728"},
    "h2o": {"color": "#9467bd"},
    "coil-uring-2t": {"color": "#1f77b4", "dash": "2 2"},
}
LARGE_POINT = 2000     # connections from which a run measures longer and has no warm-up run
LARGE_POINT_S = 2500  # ... one more second per this many connections
ERROR_KINDS = ("connect", "read", "write", "timeout", "status")

# wrk calls done() once at the end; it prints one JSON line that the harness reads.
WRK_REPORT_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"duration_us": %d, "requests": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
"""


# ------------------------------------------------------------------------------------------------
# Arguments
# ------------------------------------------------------------------------------------------------

def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="http_bench.py",
        description="HTTP \"Hello, World!\" benchmark: coil's http_server (io_uring, epoll) vs "
                    "nginx and h2o, driven by wrk with one thread, keep-alive and "
                    "Connection: close. Prints markdown tables; writes results.json, table.md "
                    "and plots.",
        epilog="Example: ./dev bench http --quick --servers coil-uring,nginx")
    p.add_argument("--build", default="build/release", metavar="DIR",
                   help="meson build directory holding apps/http_server (default: build/release, "
                        "relative to the current directory, else to the repository root)")
    p.add_argument("--quick", action="store_true",
                   help="short run: 1 round, 1 s runs after a 1 s warm-up, connections 100,1000, "
                        "both modes (about a minute)")
    p.add_argument("--rounds", type=int, default=None, metavar="N",
                   help="rounds (default 3; quick: 1)")
    p.add_argument("--duration", type=int, default=None, metavar="S",
                   help="measured seconds per run, whole seconds as wrk takes them "
                        "(default 3; quick: 1)")
    p.add_argument("--warmup", type=int, default=None, metavar="S",
                   help="warm-up seconds per run, a separate wrk run before the measured one; "
                        "0: none (default 1)")
    p.add_argument("--connections", type=int_list, default=None, metavar="LIST",
                   help="comma list (default 10,100,1000,10000; quick: 100,1000)")
    p.add_argument("--modes", type=name_list, default=list(MODES), metavar="LIST",
                   help="comma list of keepalive,close (default: both)")
    p.add_argument("--servers", type=name_list, default=list(SERVERS), metavar="LIST",
                   help="comma list, subset of " + ",".join(SERVERS) + " (default: all)")
    p.add_argument("--timeout", type=int, default=5, metavar="S",
                   help="wrk's --timeout: a response slower than this counts as a timeout "
                        "error (default 5)")
    p.add_argument("--server-cpu", type=int, default=0, metavar="CPU",
                   help="CPU the server is pinned to with taskset -c (default 0); negative: "
                        "do not pin")
    p.add_argument("--load-cpu", type=int, default=1, metavar="CPU",
                   help="CPU wrk is pinned to (default 1); negative: do not pin")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output directory (default <repository>/results/http-<UTC time>)")
    p.add_argument("--wrk", default="wrk", metavar="PATH", help="wrk program (default: wrk)")
    p.add_argument("--nginx", default="nginx", metavar="PATH", help="nginx program")
    p.add_argument("--h2o", default="h2o", metavar="PATH", help="h2o program")
    a = p.parse_args(argv)

    q = a.quick
    if a.rounds is None:
        a.rounds = 1 if q else 3
    if a.duration is None:
        a.duration = 1 if q else 3
    if a.warmup is None:
        a.warmup = 1
    if a.connections is None:
        a.connections = [100, 1000] if q else [10, 100, 1000, 10000]
    if a.rounds < 1:
        p.error("--rounds must be >= 1")
    if a.duration < 1 or a.warmup < 0 or a.timeout < 1:
        p.error("--duration and --timeout must be >= 1, --warmup >= 0")
    bad = [m for m in a.modes if m not in MODES]
    if bad or not a.modes:
        p.error(f"--modes: choose from {','.join(MODES)}")
    bad = [s for s in a.servers if s not in SERVERS]
    if bad or not a.servers or len(set(a.servers)) != len(a.servers):
        p.error(f"--servers: a comma list of distinct names from {','.join(SERVERS)}")
    return a


# ------------------------------------------------------------------------------------------------
# Server processes: coil prints its port; nginx and h2o get a free port in their config
# ------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (index 0 is the state)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def process_tree(root: int) -> dict[int, str]:
    """The root and its descendants: PID -> start time (to recognise a reused PID)."""
    parent: dict[int, int] = {}
    start: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        f = proc_stat(int(entry))
        if f and len(f) > 19:
            parent[int(entry)], start[int(entry)] = int(f[1]), f[19]
    tree, frontier = {}, [root]
    while frontier:
        pid = frontier.pop()
        if pid in start and pid not in tree:
            tree[pid] = start[pid]
            frontier += [c for c, pp in parent.items() if pp == pid]
    return tree


def cpu_ns(pids: list[int]) -> int:
    """CPU time (user + system) of the processes so far, in ns, all threads included."""
    total = 0
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                # No schedstat: utime + stime in clock ticks.
                f = proc_stat(int(tid))
                if f and len(f) > 12:
                    total += (int(f[11]) + int(f[12])) * 10**9 // os.sysconf("SC_CLK_TCK")
    return total


class PeerServer(Server):
    """A server that prints no port: ready once its (known) port accepts a connection. Stopping
    it also stops, by PID, any process it started that outlives it (nginx's worker)."""

    def __init__(self, argv: list[str], log_path: Path, port: int):
        super().__init__(argv, log_path)
        self.port = port
        self.tree: dict[int, str] = {}
        self.leftover_killed: list[int] = []

    def wait_listening(self, timeout: float) -> tuple[str, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise StartError(f"exited with code {rc} before listening")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    self.listen = ("127.0.0.1", self.port)
                    return self.listen
            except OSError:
                time.sleep(0.05)
        raise StartError(f"port {self.port} did not accept a connection within {timeout:g} s")

    def stop(self) -> tuple[int | None, str]:
        self.tree.update(process_tree(self.pid))
        rc, how = super().stop()
        left = []
        for pid, started in self.tree.items():
            f = proc_stat(pid)
            if pid != self.pid and f and len(f) > 19 and f[19] == started and f[0] != "Z":
                left.append(pid)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        # Not an unclean stop of the server itself: h2o's crash-handler helper (perl) can
        # outlive it by a moment. Recorded in the run as leftover_killed.
        self.leftover_killed = left
        return rc, how


def nginx_config(tmp: Path, port: int, max_conns: int) -> str:
    t = str(tmp)
    return f"""# Generated by bench/http_bench.py for one benchmark run; deleted afterwards.
worker_processes 1;
# The master only forks the worker and waits for signals (production layout); its CPU is
# counted with the worker's.
master_process on;
daemon off;
pid {t}/nginx.pid;
error_log {t}/nginx-error.log warn;
worker_rlimit_nofile {2 * max_conns + 2048};
events {{
    worker_connections {2 * max_conns + 1024};
}}
http {{
    access_log off;
    keepalive_requests {REQUESTS_PER_CONNECTION};
    keepalive_timeout 75s;
    default_type text/plain;
    client_body_temp_path {t}/client_body;
    proxy_temp_path {t}/proxy;
    fastcgi_temp_path {t}/fastcgi;
    uwsgi_temp_path {t}/uwsgi;
    scgi_temp_path {t}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            return 200 "Hello, World!";
        }}
    }}
}}
"""


def h2o_config(tmp: Path, port: int, max_conns: int) -> str:
    # h2o started as root switches to `nobody` unless told otherwise; the temporary directory is
    # private, so it keeps the current user. No access-log directive: no access log.
    user = f"user: {shlex.quote(os_user())}\n" if os.geteuid() == 0 else ""
    return f"""# Generated by bench/http_bench.py for one benchmark run; deleted afterwards.
num-threads: 1
max-connections: {2 * max_conns + 1024}
{user}error-log: {tmp}/h2o-error.log
listen:
  host: 127.0.0.1
  port: {port}
hosts:
  default:
    paths:
      /:
        file.file: {tmp}/hello.txt
"""


def os_user() -> str:
    import pwd
    return pwd.getpwuid(os.geteuid()).pw_name


def start_server(name: str, cfg: argparse.Namespace, build: Path, pin: Pinning, tmp: Path,
                 max_conns: int) -> Server:
    """Starts one server pinned to the server CPU and waits until it accepts connections."""
    log = tmp / f"{name}.log"
    prefix = pin.prefix(pin.server_cpu)
    if name in COIL:
        backend = "epoll" if name == "coil-epoll" else "io_uring"
        argv = [str(build / "apps" / "http_server"), "--port", "0", "--backend", backend,
                "--keepalive-requests", str(REQUESTS_PER_CONNECTION)]
        if name == "coil-uring-2t":
            argv += ["--threads", "2"]
            if pin.server_cpu is not None and pin.load_cpu is not None:
                prefix = [pin.taskset, "-c", f"{pin.server_cpu},{pin.load_cpu}"]
        srv: Server = Server(prefix + argv, log)
    else:
        port = free_port()
        conf_dir = tmp / name
        shutil.rmtree(conf_dir, ignore_errors=True)
        conf_dir.mkdir()
        if name == "nginx":
            conf = conf_dir / "nginx.conf"
            conf.write_text(nginx_config(conf_dir, port, max_conns))
            # -p and -e keep even the start-up error log out of /var/log/nginx.
            argv = [cfg.nginx, "-c", str(conf), "-p", str(conf_dir) + "/", "-e",
                    str(conf_dir / "nginx-error.log")]
        else:
            (conf_dir / "hello.txt").write_bytes(BODY)
            conf = conf_dir / "h2o.conf"
            conf.write_text(h2o_config(conf_dir, port, max_conns))
            argv = [cfg.h2o, "-c", str(conf)]
        srv = PeerServer(prefix + argv, log, port)
    srv.wait_listening(START_TIMEOUT_S)
    return srv


def server_program(name: str, cfg: argparse.Namespace, build: Path) -> str:
    return {"nginx": cfg.nginx, "h2o": cfg.h2o}.get(name, str(build / "apps" / "http_server"))


def executable(prog: str) -> bool:
    return shutil.which(prog) is not None if "/" not in prog else os.access(prog, os.X_OK)


def check_response(host: str, port: int) -> dict[str, Any]:
    """One keep-alive GET / and one with Connection: close, both must be 200 "Hello, World!"."""
    info: dict[str, Any] = {}
    for mode, headers in (("keepalive", {}), ("close", {"Connection": "close"})):
        c = http.client.HTTPConnection(host, port, timeout=5)
        try:
            c.request("GET", "/", headers=headers)
            r = c.getresponse()
            body = r.read()
            if r.status != 200 or body != BODY:
                raise StartError(f"GET / ({mode}) answered {r.status} {body[:40]!r}, "
                                 f"expected 200 {BODY!r}")
            info[mode] = {"status": r.status, "headers": r.getheaders()}
        finally:
            c.close()
    return info


# ------------------------------------------------------------------------------------------------
# One run
# ------------------------------------------------------------------------------------------------

def wrk_argv(cfg: argparse.Namespace, pin: Pinning, lua: Path, host: str, port: int, conns: int,
             mode: str, seconds: int) -> list[str]:
    argv = pin.prefix(pin.load_cpu) + [cfg.wrk, "-t1", f"-c{conns}", f"-d{seconds}s",
                                       "--timeout", f"{cfg.timeout}s", "-s", str(lua)]
    if mode == "close":
        argv += ["-H", "Connection: close"]
    return argv + [f"http://{host}:{port}/"]


def run_seconds(cfg: argparse.Namespace, conns: int) -> tuple[int, int]:
    """(warm-up, measured) seconds at a point. wrk's clock also runs while it connects, and
    connecting thousands at once takes seconds (SYNs dropped once the accept queue is full are
    sent again after 1 s, then 3 s), so a large point measures longer; its long connect phase
    warms the server up, and a separate warm-up run would only leave thousands of connections
    closing while the measured run starts."""
    if conns < LARGE_POINT:
        return cfg.warmup, cfg.duration
    return 0, cfg.duration + math.ceil(conns / LARGE_POINT_S)


def children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_wrk(argv: list[str], seconds: int, conns: int) -> tuple[dict[str, Any] | None, str]:
    """Runs wrk; its report line (a dict) gets "wrk_cpu_s", wrk's own CPU time."""
    timeout = seconds + 30 + conns / 500.0
    before = children_cpu_s()  # only wrk is reaped in between: the server still runs
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise StartError(f"wrk timed out after {timeout:.0f} s (killed)")
    except OSError as e:
        raise StartError(f"cannot execute {argv[0]}: {e}")
    out = r.stdout.decode("utf-8", "replace")
    text = out + r.stderr.decode("utf-8", "replace")
    if r.returncode != 0:
        last = [ln for ln in text.strip().splitlines() if ln.strip()]
        raise StartError(f"wrk exit code {r.returncode}" + (f": {last[-1]}" if last else ""))
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            try:
                report = json.loads(line)
            except ValueError:
                break
            report["wrk_cpu_s"] = children_cpu_s() - before
            return report, text
    return None, text


def loadavg() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return None


def run_point(cfg: argparse.Namespace, name: str, build: Path, pin: Pinning, lua: Path,
              mode: str, conns: int, rnd: int, tmp: Path, logdir: Path,
              max_conns: int) -> dict[str, Any]:
    rec: dict[str, Any] = {"round": rnd, "server": name, "mode": mode, "connections": conns,
                           "ok": False, "reason": None, "loadavg_before": loadavg()}
    t0 = time.monotonic()
    srv: Server | None = None
    wrk_text = ""
    try:
        srv = start_server(name, cfg, build, pin, tmp, max_conns)
        host, port = srv.listen
        rec["server_pid"] = srv.pid
        warmup, seconds = run_seconds(cfg, conns)
        rec["warmup_s"], rec["duration_s"] = warmup, seconds
        if warmup > 0:
            _, wrk_text = run_wrk(wrk_argv(cfg, pin, lua, host, port, conns, mode, warmup),
                                  warmup, conns)
        argv = wrk_argv(cfg, pin, lua, host, port, conns, mode, seconds)
        rec["wrk_cmd"] = shlex.join(argv)
        pids = list(process_tree(srv.pid))
        cpu0 = cpu_ns(pids)
        result, wrk_text = run_wrk(argv, seconds, conns)
        pids = sorted(set(pids) | set(process_tree(srv.pid)))
        cpu1 = cpu_ns(pids)
        rec["server_pids"] = pids
        rec["result"] = result
        rc = srv.proc.poll()
        if rc is not None:
            raise StartError(f"server exited during the run (exit code {rc})")
        if result is None:
            raise StartError("wrk printed no report line (the Lua done() hook)")
        reqs, dur_us = result["requests"], result["duration_us"]
        if not reqs or not dur_us:
            raise StartError(f"no request completed (errors: "
                             f"{ {k: result.get(k) for k in ERROR_KINDS} })")
        rec.update({
            "ok": True,
            "requests": reqs,
            "req_per_s": reqs * 1e6 / dur_us,
            "p50_us": float(result["p50_us"]),
            "p99_us": float(result["p99_us"]),
            "server_cpu_s": (cpu1 - cpu0) / 1e9,
            "cpu_us_per_req": (cpu1 - cpu0) / 1e3 / reqs,
            # The server's share of its CPU: well under 1 means wrk, not the server, set req/s.
            "server_busy": (cpu1 - cpu0) / 1e3 / dur_us,
            "wrk_busy": result["wrk_cpu_s"] * 1e6 / dur_us,
            "bytes_per_response": result["bytes"] / reqs,
            "errors": {k: int(result.get(k, 0)) for k in ERROR_KINDS if result.get(k)},
        })
    except StartError as e:
        rec["reason"] = str(e)
    except Exception as e:  # one point must not end the whole run
        rec["reason"] = f"harness error: {type(e).__name__}: {e}"
    finally:
        finish_record(rec, srv, t0)
    if not rec["ok"]:
        def write_more(f: TextIO) -> None:
            if srv is not None:
                for p in sorted((tmp / name).glob("*.log")) if (tmp / name).is_dir() else []:
                    f.write(f"\n--- {p.name} ---\n" + p.read_text(errors="replace")[-4000:])
            if rec.get("wrk_cmd"):
                f.write(f"\nwrk command: {rec['wrk_cmd']}\n")
            f.write("\n--- wrk output (tail) ---\n" + wrk_text[-4000:] + "\n")

        write_failure_log(rec, logdir / f"r{rnd}-{name}-{mode}-c{conns}.log", srv, write_more)
    return rec


def finish_record(rec: dict[str, Any], srv: Server | None, t0: float) -> None:
    """A run's common ending (also offload_bench's): stops `srv` if it was started and notes how
    (a warning if an ok run's server did not exit cleanly on SIGTERM), the load average after,
    and the wall time since `t0` (time.monotonic())."""
    if srv is not None:
        rc, how = srv.stop()
        rec["server_exit"], rec["server_stop"] = rc, how
        if getattr(srv, "leftover_killed", None):
            rec["leftover_killed"] = srv.leftover_killed
        if rec["ok"] and (rc != 0 or how != "sigterm"):
            rec["warning"] = f"server did not exit cleanly on SIGTERM: exit code {rc}, {how}"
    rec["loadavg_after"] = loadavg()
    rec["wall_s"] = round(time.monotonic() - t0, 3)


def write_failure_log(rec: dict[str, Any], path: Path, srv: Server | None,
                      write_more: Callable[[TextIO], None]) -> None:
    """For a failed run: writes `path` (the reason, the server's command and stderr tail, then
    what write_more adds) and names it in rec["log"]; a log that cannot be written is left out."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"reason: {rec['reason']}\n")
            if srv is not None:
                f.write(f"server command: {shlex.join(srv.argv)}\n")
                f.write("\n--- server stderr (tail) ---\n" + srv.stderr_tail() + "\n")
            write_more(f)
        rec["log"] = str(path)
    except OSError:
        pass


# ------------------------------------------------------------------------------------------------
# Aggregation, tables, plots
# ------------------------------------------------------------------------------------------------

def aggregate(runs: list[dict[str, Any]], servers: list[str], modes: list[str],
              conns: list[int]) -> dict[tuple[str, str, int], dict[str, Any]]:
    out = {}
    for m in modes:
        for s in servers:
            for c in conns:
                rs = [r for r in runs if (r["mode"], r["server"], r["connections"]) == (m, s, c)]
                ok = [r for r in rs if r["ok"]]
                errs: dict[str, int] = {}
                for r in ok:
                    for k, v in r["errors"].items():
                        errs[k] = errs.get(k, 0) + v
                out[(m, s, c)] = {
                    "mode": m, "server": s, "connections": c, "runs": len(rs),
                    "ok_runs": len(ok),
                    "req_per_s": median_or_none([r["req_per_s"] for r in ok]),
                    "p99_us": median_or_none([r["p99_us"] for r in ok]),
                    "cpu_us_per_req": median_or_none([r["cpu_us_per_req"] for r in ok]),
                    "bytes_per_response": median_or_none([r["bytes_per_response"] for r in ok]),
                    "server_busy": median_or_none([r["server_busy"] for r in ok]),
                    "wrk_busy": median_or_none([r["wrk_busy"] for r in ok]),
                    "requests": sum(r["requests"] for r in ok),
                    "errors": errs,
                    "failures": [r["reason"] for r in rs if not r["ok"]],
                    "warnings": [r["warning"] for r in rs if r.get("warning")],
                }
    return out


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def fmt_load(la: list[float] | None) -> str:
    return "—" if not la else " / ".join(f"{x:.2f}" for x in la)


def render_tables(meta: dict[str, Any], cfg: argparse.Namespace, pin: Pinning,
                  servers: list[str], med: dict, unavailable: dict[str, str],
                  notes: list[str], runs: list[dict[str, Any]], load_start, load_end) -> str:
    L: list[str] = ["# coil HTTP benchmark: \"Hello, World!\" vs nginx and h2o", ""]
    L.append(f"- Date: {meta['date_utc']}")
    L.append(f"- Machine: {meta['uname']}; CPU: {meta['cpu_model']}; nproc: {meta['nproc']}")
    L.append(f"- Commit: {meta['git_commit']}")
    L.append(f"- Command: `{meta['command']}`")
    L.append(f"- Settings: wrk -t1, {cfg.rounds} round(s) (medians shown), {cfg.duration} s "
             f"measured after a {cfg.warmup} s warm-up run, wrk --timeout {cfg.timeout}s; "
             "servers interleaved within each point; a fresh server per run"
             + (f"; from {LARGE_POINT:,} connections on, no warm-up run and one more second "
                f"measured per {LARGE_POINT_S:,} connections (wrk's clock includes connecting)"
                if max(cfg.connections) >= LARGE_POINT else ""))
    L.append(f"- Pinning: {pin.describe()}"
             + ("; coil-uring-2t (--threads 2) runs on both CPUs and shares one with wrk"
                if "coil-uring-2t" in cfg.servers else ""))
    ones = [x for r in runs for x in (r.get("loadavg_before"), r.get("loadavg_after")) if x]
    L.append(f"- Load average (1/5/15 min): {fmt_load(load_start)} at the start, "
             f"{fmt_load(load_end)} at the end"
             + (f"; 1-min load over the runs {min(x[0] for x in ones):.2f}–"
                f"{max(x[0] for x in ones):.2f}" if ones else ""))
    versions = meta.get("versions") or {}
    if versions:
        L.append("- Versions: " + ", ".join(versions.values()))
    for n, why in unavailable.items():
        L.append(f"- **{n} skipped**: {why}")
    for n in notes:
        L.append(f"- Note: {n}")
    L.append("")

    ratio_servers = [s for s in servers if s != REFERENCE] if REFERENCE in servers else []
    for mode in cfg.modes:
        L.append(f"## {MODE_TITLES[mode]}")
        L.append("")
        hdr = ["conns"]
        for s in servers:
            hdr += [f"{s} req/s", f"{s} p99 µs", f"{s} CPU µs/req"]
        for s in ratio_servers:
            hdr += [f"{s}/nginx req/s", f"{s}/nginx CPU/req"]
        errs_any = any(med[(mode, s, c)]["errors"] or med[(mode, s, c)]["failures"]
                       or med[(mode, s, c)]["warnings"] for s in servers for c in cfg.connections)
        if errs_any:
            hdr.append("errors (summed over rounds)")
        L.append("| " + " | ".join(hdr) + " |")
        L.append("|" + "|".join(["---:"] * (len(hdr) - errs_any) + [":---"] * errs_any) + "|")
        for c in cfg.connections:
            row = [f"{c:,}"]
            for s in servers:
                m = med[(mode, s, c)]
                if not m["ok_runs"]:
                    row += ["FAIL", "—", "—"]
                    continue
                mark = f" ({m['ok_runs']}/{m['runs']})" if m["ok_runs"] < m["runs"] else ""
                row += [f_int(m["req_per_s"]) + mark, f_lat(m["p99_us"]),
                        f_cpu(m["cpu_us_per_req"])]
            ref = med.get((mode, REFERENCE, c))
            for s in ratio_servers:
                m = med[(mode, s, c)]
                row += [f_ratio(m["req_per_s"], ref["req_per_s"]),
                        f_ratio(m["cpu_us_per_req"], ref["cpu_us_per_req"])]
            if errs_any:
                parts = []
                for s in servers:
                    m = med[(mode, s, c)]
                    bits = [f"{k} {v:,}" for k, v in sorted(m["errors"].items())]
                    if m["failures"]:
                        bits.append(f"{len(m['failures'])} failed run(s): {m['failures'][0]}")
                    if m["warnings"]:
                        bits.append(f"{len(m['warnings'])} unclean stop(s): {m['warnings'][0]}")
                    if bits:
                        parts.append(f"{s}: " + ", ".join(bits))
                row.append("; ".join(parts).replace("|", "\\|") or "—")
            L.append("| " + " | ".join(row) + " |")
        L.append("")

    L.append("req/s: requests per second wrk completed (median over rounds); p99: wrk's "
             "latency percentile; CPU µs/req: server CPU time (user + system, all its "
             "processes) over the measured wrk run / requests. Ratios: server / nginx (req/s: "
             "higher is better; CPU/req: lower is better). Errors: wrk's socket errors "
             "(connect, read, write, timeout) and non-2xx/3xx responses (status).")
    sizes = []
    for s in servers:
        b = [med[(m, s, c)]["bytes_per_response"] for m in cfg.modes for c in cfg.connections]
        b = [x for x in b if x]
        if b:
            sizes.append(f"{s} {min(b):.0f}" + (f"–{max(b):.0f}" if max(b) - min(b) >= 1 else ""))
    if sizes:
        L.append("Response size in bytes (head + 13-byte body): " + ", ".join(sizes) + ".")
    busy = []
    for s in servers:
        b = [med[(m, s, c)]["server_busy"] for m in cfg.modes for c in cfg.connections]
        b = [x for x in b if x is not None]
        w = [med[(m, s, c)]["wrk_busy"] for m in cfg.modes for c in cfg.connections]
        w = [x for x in w if x is not None]
        if b and w:
            busy.append(f"{s} {100 * min(b):.0f}–{100 * max(b):.0f}% "
                        f"(wrk {100 * min(w):.0f}–{100 * max(w):.0f}%)")
    if busy:
        L.append("CPU busy, server (and wrk): CPU time / wall time of the measured run, over "
                 "the points; whichever is nearer its share of a CPU set the pace: "
                 + ", ".join(busy) + ".")
    L.append("")
    L.extend(target_lines(med, servers, cfg))
    return "\n".join(L)


def target_lines(med: dict, servers: list[str], cfg: argparse.Namespace) -> list[str]:
    if REFERENCE not in servers or "keepalive" not in cfg.modes:
        return []
    pts = [c for c in TARGET_POINTS if c in cfg.connections]
    if not pts:
        return []
    L = [f"Target (keep-alive, {' and '.join(f'{c:,}' for c in pts)} connections): req/s ≥ "
         f"{TARGET_RPS}× nginx and CPU/req ≤ {TARGET_CPU}× nginx.", ""]
    for s in [s for s in COIL if s in servers]:
        cells, met = [], True
        for c in pts:
            a, b = med[("keepalive", s, c)], med[("keepalive", REFERENCE, c)]
            rr, cr = ratio(a["req_per_s"], b["req_per_s"]), ratio(a["cpu_us_per_req"],
                                                                   b["cpu_us_per_req"])
            if rr is None or cr is None:
                cells.append(f"{c:,}: —")
                met = False
                continue
            met = met and rr >= TARGET_RPS and cr <= TARGET_CPU
            cells.append(f"{c:,}: req/s {rr:.2f}×, CPU/req {cr:.2f}×")
        L.append(f"- {s}: " + "; ".join(cells) + (" — met" if met else " — missed"))
    L.append("")
    return L


def write_plots(out: Path, servers: list[str], modes: list[str], conns: list[int], med: dict,
                meta: dict[str, Any]) -> list[str]:
    import plots  # here, not at the top: without matplotlib the measurements are still written

    def panels(metric: str, y_label: str, **kw: Any) -> list[dict[str, Any]]:
        return [{"title": MODE_TITLES[m], "x_label": "connections", "y_label": y_label,
                 "series": {s: [(c, med[(m, s, c)][metric]) for c in conns] for s in servers},
                 **kw} for m in modes]

    sub = f"{meta['cpu_model']} · {meta['uname']} · commit {meta['git_commit']} · {meta['date_utc']}"
    ncols = len(modes)
    files = []
    files += plots.multi_plot(out / "req_per_s", "HTTP \"Hello, World!\": requests/s (median), "
                              "wrk -t1", panels("req_per_s", "requests / s"), ncols=ncols,
                              styles=STYLES, subtitle=sub)
    files += plots.multi_plot(out / "cpu_per_req", "Server CPU per request (median)",
                              panels("cpu_us_per_req", "server CPU µs / request"), ncols=ncols,
                              styles=STYLES, subtitle=sub)
    files += plots.multi_plot(out / "p99_us", "p99 latency (median over rounds)",
                              panels("p99_us", "p99 latency µs", log_y=True), ncols=ncols,
                              styles=STYLES, subtitle=sub)
    others = [s for s in servers if s != REFERENCE]
    if REFERENCE in servers and others:
        styles: dict[str, dict[str, str]] = {}
        ps = []
        for s in others:
            color = STYLES[s]["color"]
            styles[f"{s} req/s ratio"] = {"color": color}
            styles[f"{s} CPU/req ratio"] = {"color": color, "dash": "6 4"}
        for m in modes:
            series: dict[str, list] = {}
            for s in others:
                for metric, label in (("req_per_s", "req/s ratio"),
                                      ("cpu_us_per_req", "CPU/req ratio")):
                    series[f"{s} {label}"] = [
                        (c, ratio(med[(m, s, c)][metric], med[(m, REFERENCE, c)][metric]))
                        for c in conns]
            hl = [(1.0, "nginx = 1")]
            if m == "keepalive":
                hl += [(TARGET_RPS, f"target req/s ≥ {TARGET_RPS}"),
                       (TARGET_CPU, f"target CPU ≤ {TARGET_CPU}")]
            ps.append({"title": MODE_TITLES[m], "x_label": "connections",
                       "y_label": "ratio to nginx", "series": series, "y_zero": False,
                       "hlines": hl})
        files += plots.multi_plot(out / "summary", "Relative to nginx (one worker)", ps,
                                  ncols=ncols, styles=styles,
                                  subtitle="req/s ratio (solid): higher is better · CPU/req "
                                           "ratio (dashed): lower is better · " + sub)
    return files


# ------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------

def program_version(argv: list[str]) -> str | None:
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = r.stdout.strip().splitlines()
    if not lines:
        return None
    # "wrk debian/4.1.0-3+b2 [epoll] Copyright ...", "nginx version: nginx/1.22.1"
    return re.sub(r"\s*(\[|Copyright).*$", "", lines[0]).split(": ")[-1].strip()


def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # stop the current server, write partial results, exit 130


def main(argv: list[str]) -> int:
    cfg = parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    repo = Path(__file__).resolve().parent.parent
    build = resolve_build(cfg.build, repo)

    if not executable(cfg.wrk):
        eprint(f"http_bench: wrk not found ({cfg.wrk}); install Debian's wrk "
               "(./dev bench http does)")
        return 2
    pin = Pinning(cfg.server_cpu, cfg.load_cpu)
    for n in pin.notes:
        eprint(f"http_bench: note: {n}")

    notes: list[str] = []
    max_conns = max(cfg.connections)
    w = raise_nofile(max_conns)  # wrk and the servers inherit it
    if w:
        notes.append(w)
        eprint(f"http_bench: warning: {w}")

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = (Path(cfg.out) if cfg.out else repo / "results" / f"http-{stamp}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    logdir = out / "logs"
    meta = machine_info(repo)
    load_start = loadavg()
    tmp = Path(tempfile.mkdtemp(prefix="http_bench-"))
    tmp.chmod(0o755)  # nginx's worker runs as nobody when started as root
    lua = tmp / "report.lua"
    lua.write_text(WRK_REPORT_LUA)

    # Probe each server once (start, one GET / in each mode, stop): one that cannot be started
    # is reported and skipped, the others go on.
    unavailable: dict[str, str] = {}
    probes: dict[str, Any] = {}
    for s in cfg.servers:
        prog = server_program(s, cfg, build)
        if not executable(prog):
            unavailable[s] = (f"{prog} not found" + (
                f" (build it: ./dev build release, or pass --build)" if s in COIL else
                f" (Debian package {s}; ./dev bench http installs it)"))
        else:
            srv = None
            try:
                srv = start_server(s, cfg, build, pin, tmp, max_conns)
                probes[s] = check_response(*srv.listen)
            except StartError as e:
                tail = srv.stderr_tail(600).strip().splitlines() if srv else []
                unavailable[s] = str(e) + (f"; stderr: {tail[-1]}" if tail else "")
            finally:
                if srv is not None:
                    rc, how = srv.stop()
                    if s not in unavailable and how != "sigterm":
                        notes.append(f"{s}: probe run stopped with {how} (exit code {rc})")
        if s in unavailable:
            eprint(f"http_bench: skipping {s}: {unavailable[s]}")
    servers = [s for s in SERVERS if s in cfg.servers and s not in unavailable]  # table order
    if not servers:
        eprint("http_bench: no server could be started; nothing to measure")
        shutil.rmtree(tmp, ignore_errors=True)
        return 2
    meta["versions"] = {k: v for k, v in (
        ("wrk", program_version([cfg.wrk, "-v"])),
        ("nginx", program_version([cfg.nginx, "-v"]) if "nginx" in servers else None),
        ("h2o", program_version([cfg.h2o, "--version"]) if "h2o" in servers else None)) if v}

    total = cfg.rounds * len(cfg.modes) * len(cfg.connections) * len(servers)
    est = cfg.rounds * len(cfg.modes) * len(servers) * sum(
        sum(run_seconds(cfg, c)) + 0.8 + c / 4000 for c in cfg.connections)
    eprint(f"http_bench: {len(cfg.modes)} mode(s) x {len(cfg.connections)} connection counts x "
           f"{len(servers)} servers x {cfg.rounds} round(s) = {total} runs, roughly "
           f"{est / 60:.1f} min; load average {fmt_load(load_start)}")

    def jobs() -> Iterable[tuple[str, Callable[[], dict[str, Any]]]]:
        idx = 0
        for rnd in range(1, cfg.rounds + 1):
            for mode in cfg.modes:
                for c in cfg.connections:
                    for s in servers:
                        idx += 1
                        yield (f"[{idx}/{total}] {mode} {s} c={c}:",
                               functools.partial(run_point, cfg, s, build, pin, lua, mode, c, rnd,
                                                 tmp, logdir, max_conns))

    def ok_text(rec: dict[str, Any]) -> str:
        return (f"{rec['req_per_s']:,.0f} req/s p99 {f_lat(rec['p99_us'])}us "
                f"cpu {rec['cpu_us_per_req']:.2f}us/req busy {100 * rec['server_busy']:.0f}% "
                f"wrk {100 * rec['wrk_busy']:.0f}%")

    runs, interrupted = run_all("http_bench", out, tmp, jobs(), ok_text)

    load_end = loadavg()
    med = aggregate(runs, servers, cfg.modes, cfg.connections)
    if interrupted:
        notes.append(f"interrupted after {len(runs)} of {total} runs")
    table = render_tables(meta, cfg, pin, servers, med, unavailable, notes, runs, load_start,
                          load_end)
    print(table, flush=True)
    (out / "table.md").write_text(table + "\n", encoding="utf-8")

    plot_files = plot_or_warn(
        "http_bench", lambda: write_plots(out, servers, cfg.modes, cfg.connections, med, meta))

    results = {
        "schema": 1,
        "machine": meta,
        "config": {
            "build": str(build), "rounds": cfg.rounds, "duration_s": cfg.duration,
            "warmup_s": cfg.warmup, "wrk_timeout_s": cfg.timeout,
            "connections": cfg.connections, "modes": cfg.modes,
            "servers_requested": cfg.servers, "servers": servers, "quick": cfg.quick,
            "requests_per_connection": REQUESTS_PER_CONNECTION,
            "pinning": {"taskset": pin.taskset, "server_cpu": pin.server_cpu,
                        "load_cpu": pin.load_cpu, "notes": pin.notes},
            "nginx_config_example": nginx_config(Path("/tmp/DIR"), 8080, max_conns),
            "h2o_config_example": h2o_config(Path("/tmp/DIR"), 8080, max_conns),
        },
        "loadavg_start": load_start, "loadavg_end": load_end,
        "probes": probes,
        "unavailable_servers": unavailable,
        "notes": notes,
        "interrupted": interrupted,
        "runs": runs,
        "medians": list(med.values()),
        "files": ["results.json", "runs.jsonl", "table.md", *plot_files],
    }
    return finish_run("http_bench", out, results, plot_files)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
