#!/usr/bin/env python3
"""Checks the real-server peers of bench/arch_bench.py that live in this repository
(bench/peers/asyncio_server.py, bench/peers/node_server.js) as their headers describe them: on
loopback, port 0, 'listening on 127.0.0.1:PORT', GET / answered with "Hello, World!", and
SIGTERM ends them with exit code 0, also when it comes the moment the 'listening on' line is read
(regression: asyncio_server installed its handler only after printing the line, so a SIGTERM
right after it, as arch_bench's probe sends, killed it with 143), and --help / bad arguments
(regression: node_server ignored both and started listening); and bench/arch_peers.py, run as a
program, says it is a module (it printed nothing), and stops a peer whose start is interrupted
(Ctrl-C / SIGTERM) instead of leaving it running.
The Node.js cases skip when no `node` is installed. Every process started is stopped by its PID.

Usage: peers_test.py   (output is TAP)
"""
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PEERS = ROOT / "bench" / "peers"
sys.path.insert(0, str(ROOT / "tests" / "support"))
from tap import Tap  # noqa: E402

LISTENING = re.compile(r"listening on 127\.0\.0\.1:[0-9]")  # the line, not the usage's words
REPEAT = 10  # SIGTERM right after 'listening on': each start is one more chance for the race


def start(argv: list[str]) -> tuple[subprocess.Popen, int]:
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()  # bounded: the process exits or prints; the kill below ends it
        assert line.startswith("listening on 127.0.0.1:"), (line, p.poll())
        return p, int(line.rsplit(":", 1)[1])
    except BaseException:
        p.kill()
        p.wait(timeout=10)
        raise


def stop(p: subprocess.Popen) -> int:
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=10)
        raise AssertionError("did not exit within 10 s of SIGTERM")


def hello(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"Hello, World!"), data


def serves_and_stops(argv: list[str]):
    def check() -> None:
        p, port = start(argv)
        try:
            hello(port)
        finally:
            rc = stop(p)
        assert rc == 0, rc
    return check


def sigterm_right_after_listening(argv: list[str]):
    def check() -> None:
        for i in range(REPEAT):
            p, _ = start(argv)
            rc = stop(p)
            assert rc == 0, f"start {i + 1}: exit code {rc} (143/-15: killed by the signal)"
    return check


def node_help_and_bad_arguments(node: str):
    def check() -> None:
        script = str(PEERS / "node_server.js")
        r = subprocess.run([node, script, "--help"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and "usage:" in r.stdout, (r.returncode, r.stdout, r.stderr)
        assert not LISTENING.search(r.stdout), r.stdout
        for bad in (["--bogus"], ["--port", "abc"], ["--port"], ["--port", "70000"]):
            r = subprocess.run([node, script, *bad], capture_output=True, text=True, timeout=30)
            assert r.returncode == 2 and "usage:" in r.stderr, (bad, r.returncode, r.stderr)
            assert not LISTENING.search(r.stdout), (bad, r.stdout)
    return check


def arch_peers_says_it_is_a_module() -> None:
    # Regression: 'python3 bench/arch_peers.py --help' printed nothing and exited 0.
    script = str(ROOT / "bench" / "arch_peers.py")
    r = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and "arch_bench.py --help" in r.stdout, (r.returncode, r.stdout)
    r = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "not a program" in r.stderr, (r.returncode, r.stderr)


def interrupted_start_stops_the_peer() -> None:
    # Regression: a KeyboardInterrupt (Ctrl-C, or SIGTERM through arch_bench's handler) while
    # start_peer waited for the 'listening on' line left the peer running.
    import tempfile
    sys.path.insert(0, str(ROOT / "bench"))
    import arch_peers
    import echo_bench
    started: list = []
    real_wait = echo_bench.Server.wait_listening

    def interrupted(self, timeout):
        started.append(self)
        real_wait(self, timeout)  # it really started and listens: now "Ctrl-C"
        raise KeyboardInterrupt

    echo_bench.Server.wait_listening = interrupted
    try:
        with tempfile.TemporaryDirectory() as d:
            try:
                arch_peers.start_peer("asyncio", Path(d), [], 10, 20, "")
                raise AssertionError("start_peer returned")
            except KeyboardInterrupt:
                pass
    finally:
        echo_bench.Server.wait_listening = real_wait
        for srv in started:
            if srv.proc.poll() is None:
                srv.proc.kill()
                srv.proc.wait(timeout=10)
                raise AssertionError(f"peer {srv.pid} still running after the interrupted start")
    assert started, "the peer was never started"


def main() -> int:
    t = Tap()
    asyncio_argv = [sys.executable, str(PEERS / "asyncio_server.py"), "--port", "0"]
    t.check("asyncio: GET / then SIGTERM, exit 0", serves_and_stops(asyncio_argv))
    t.check(f"asyncio: SIGTERM right after 'listening on' ({REPEAT} starts), exit 0",
            sigterm_right_after_listening(asyncio_argv))
    t.check("arch_peers.py run as a program says it is a module", arch_peers_says_it_is_a_module)
    t.check("arch_peers: an interrupted start stops the peer", interrupted_start_stops_the_peer)
    node = shutil.which("node")
    if node is None:
        for name in ("node: GET / then SIGTERM", "node: SIGTERM right after 'listening on'",
                     "node: --help and bad arguments"):
            t.skip(name, "no node on PATH (Debian package nodejs)")
    else:
        node_argv = [node, str(PEERS / "node_server.js"), "--port", "0"]
        t.check("node: GET / then SIGTERM, exit 0", serves_and_stops(node_argv))
        t.check(f"node: SIGTERM right after 'listening on' ({REPEAT} starts), exit 0",
                sigterm_right_after_listening(node_argv))
        t.check("node: --help and bad arguments", node_help_and_bad_arguments(node))
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
