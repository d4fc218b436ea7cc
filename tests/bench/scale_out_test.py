#!/usr/bin/env python3
"""Checks the scale-out layout of bench/arch_peers.py: nginx as a keep-alive reverse proxy in front
of two coil http_servers survives losing one of them.

Usage: scale_out_test.py HTTP_SERVER   (output is TAP)

The pair and nginx start on loopback (the coil instances on port 0, nginx on a free port, from a
config generated into a temporary directory). Four clients send GET / over keep-alive connections
to nginx, continuously; once both instances have served requests, one instance is killed by its
PID (SIGKILL: no graceful stop). Every request, before and after, must get 200 "Hello, World!":
nginx retries a request that fails on the dead instance on the other (proxy_next_upstream error
timeout) and then leaves the dead one alone (max_fails=1). nginx's access log (status and
upstream address per request) shows which instance answered. Then nginx and the survivor must
stop on SIGTERM with exit code 0.

nginx is a test dependency (./dev setup installs it). Missing nginx fails the test when apt can
install it (or when CI is set); only when it cannot be installed here is the test skipped, loudly.
Every wait is bounded in time and count; every process started is stopped by its PID.
"""
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))
sys.path.insert(0, str(ROOT / "bench"))
from tap import Tap  # noqa: E402

HTTP_SERVER = sys.argv[1]
CLIENTS = 4
BEFORE_KILL = 200      # successful requests before the kill (both instances by then)
AFTER_KILL = 400       # successful requests after it
MAX_REQUESTS = 20_000  # per client: a bound on the loop whatever happens
PHASE_S = 30           # each phase's deadline (ASan builds are slow)
IO_S = 10              # socket timeout of a client
HELLO = b"Hello, World!"


def find_nginx() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")


def apt_can_install(pkg: str) -> bool:
    """True when apt knows an installation candidate for pkg (a local query, no network)."""
    try:
        out = subprocess.run(["apt-cache", "policy", pkg], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return any(line.strip().startswith("Candidate:") and "(none)" not in line
               for line in out.splitlines())


class Client(threading.Thread):
    """GET / over one keep-alive connection to nginx, again and again, until told to stop (or
    MAX_REQUESTS); a dropped connection is reconnected (and counted as a failure)."""

    def __init__(self, port: int, stop: threading.Event):
        super().__init__(daemon=True)
        self.port, self.stop = port, stop
        self.ok = 0
        self.failures: list[str] = []

    def run(self) -> None:
        conn = None
        for _ in range(MAX_REQUESTS):
            if self.stop.is_set():
                break
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=IO_S)
                conn.request("GET", "/")
                r = conn.getresponse()
                body = r.read()
                if r.status == 200 and body == HELLO:
                    self.ok += 1
                else:
                    self.failures.append(f"{r.status} {body[:60]!r}")
            except (OSError, http.client.HTTPException) as e:
                self.failures.append(f"{type(e).__name__}: {e}")
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()


def upstreams(log: Path, offset: int = 0) -> list[tuple[str, list[str]]]:
    """(status, upstream addresses tried in order) per access-log line after `offset` (lines are
    "$status|$upstream_addr|$upstream_status", the last two comma-separated lists)."""
    out = []
    with open(log, "rb") as f:
        f.seek(offset)
        for line in f.read().decode().splitlines():
            status, addrs, _ = line.split("|")
            out.append((status, [a.strip() for a in addrs.split(",")]))
    return out


def wait_for(cond, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def main() -> int:
    tap = Tap()
    nginx = find_nginx()
    if nginx is None:
        if os.environ.get("CI") or apt_can_install("nginx"):
            def missing() -> None:
                raise AssertionError("nginx is not installed, but apt can install it: run "
                                     "./dev setup (./dev test installs it)")
            tap.check("nginx is installed", missing)
        else:
            print("#" * 72 + "\n# SKIPPING the scale-out test: nginx is not installed and apt "
                  "cannot install it here\n" + "#" * 72, file=sys.stderr, flush=True)
            tap.skip("nginx in front of two coil http_servers survives losing one",
                     "nginx is not installed and apt has no candidate for it")
        return tap.finish()

    import arch_peers
    from echo_bench import StartError
    from http_bench import process_tree

    tmp = Path(tempfile.mkdtemp(prefix="scale_out_test-"))
    tmp.chmod(0o755)  # nginx's worker runs as nobody when started as root
    group = None
    state: dict = {}
    stop = threading.Event()
    try:
        try:
            group = arch_peers.start_scale_out(HTTP_SERVER, nginx, tmp, [], 100, 30,
                                               access_log=True)
        except StartError as e:
            tap.check("the pair and nginx start", lambda: (_ for _ in ()).throw(AssertionError(e)))
            return tap.finish()
        log = tmp / "nginx-proxy" / "access.log"
        ports = [f"127.0.0.1:{b.listen[1]}" for b in group.back]
        port = group.front.listen[1]
        clients = [Client(port, stop) for _ in range(CLIENTS)]

        def served() -> int:
            return sum(c.ok for c in clients)

        def before_kill() -> None:
            for c in clients:
                c.start()
            assert wait_for(lambda: served() >= BEFORE_KILL, PHASE_S), \
                f"only {served()} requests answered in {PHASE_S} s"
            lines = upstreams(log)
            by = {p: sum(1 for _, a in lines if a[-1] == p) for p in ports}
            assert all(by.values()), f"both instances serve before the kill: {by}"
            assert all(s == "200" for s, _ in lines), "every status is 200 before the kill"

        def kill_one() -> None:
            victim = group.back[0]
            state["before_kill"] = log.stat().st_size  # where nginx's retries can start
            state["at_kill"] = served()
            os.kill(victim.pid, signal.SIGKILL)
            victim.proc.wait(timeout=PHASE_S)  # reaped: the instance is gone
            assert victim.proc.returncode == -signal.SIGKILL, victim.proc.returncode
            # The log from here on: taken before the kill, a slow moment between the two (a
            # loaded machine) let the clients finish any number of requests on the victim
            # that the check below would then count as answered after the kill.
            state["offset"] = log.stat().st_size

        def after_kill() -> None:
            target = state["at_kill"] + AFTER_KILL
            assert wait_for(lambda: served() >= target, PHASE_S), \
                f"{served() - state['at_kill']} requests answered after the kill in {PHASE_S} s"
            stop.set()
            for c in clients:
                c.join(timeout=IO_S + 5)
                assert not c.is_alive(), "a client did not finish"
            failures = [f for c in clients for f in c.failures]
            assert not failures, f"{len(failures)} failed requests, e.g. {failures[:3]}"
            dead, alive = ports
            # Everything from the kill on (the kill and the reaping are not one instant).
            since_kill = upstreams(log, state["before_kill"])
            assert len(since_kill) >= AFTER_KILL, len(since_kill)
            assert all(s == "200" for s, _ in since_kill), "every status is 200 after the kill"
            lines = upstreams(log, state["offset"])
            # Requests in flight at the kill (at most one per client) may have been answered by
            # the victim just before it died and logged after it was reaped; every later one is
            # answered by the survivor.
            late = [a for _, a in lines[CLIENTS:] if a[-1] != alive]
            assert not late, f"answered by the killed instance after the kill: {late[:3]}"
            # Counted from the kill: nginx may find the victim dead (and retry) before it is
            # reaped and the offset above is read.
            retried = [a for _, a in since_kill if a == [dead, alive]]
            assert retried, "nginx retried at least one request from the dead instance"

        def clean_stop() -> None:
            survivors = [group.front.pid, group.back[1].pid]
            tree = {}
            for pid in survivors:
                tree.update(process_tree(pid))
            grp, state["stopped"] = group, True
            rc_front, how_front = grp.front.stop()
            rc_back, how_back = grp.back[1].stop()
            assert (rc_front, how_front) == (0, "sigterm"), (rc_front, how_front)
            assert (rc_back, how_back) == (0, "sigterm"), (rc_back, how_back)
            left = [p for p in tree if Path(f"/proc/{p}").exists()
                    and "Z" not in Path(f"/proc/{p}/stat").read_text().split(") ")[1][:1]]
            assert not left, f"processes left behind: {left}"

        for name, fn in (("requests through nginx reach both coil instances", before_kill),
                         ("one instance is killed by its PID mid-run", kill_one),
                         ("every request still succeeds, through the survivor", after_kill),
                         ("nginx and the survivor stop on SIGTERM, nothing left", clean_stop)):
            if not tap.check(name, fn):
                break
    finally:
        stop.set()
        if group is not None and not state.get("stopped"):
            group.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
