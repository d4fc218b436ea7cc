#!/usr/bin/env python3
"""Checks every baseline server in bench/baselines/ on both protocols, on loopback (port 0).

Usage: baselines_test.py DIR [NAME...]   (DIR holds the built baseline_* programs; NAMEs, such as
forking or "epoll --mode lt", run only those servers; output is TAP)

For each server and protocol: 100 sequential and 50 concurrent clients get exact answers (echo:
random payloads, pipelined and ping-pong; http: keep-alive, /echo bodies, pipelined requests
answered in order, Connection: close), a few protocol edges (HTTP/1.0, a body sent in pieces, an
oversized header block, clients that vanish mid-request; http: framing a proxy could read otherwise
(bare CR/LF/NUL, Host, bad Content-Length) refused with 400, unfinished header blocks that must not
block other clients), and then SIGTERM (http) or SIGINT (echo),
with connections still open, must end the server with exit code 0 within STOP_S, leaving no
process behind and no zombie: this script makes itself a child subreaper, so any process the
server leaves behind becomes its child and is found (and then killed by its PID).

Every wait is bounded (socket timeouts, deadlines); every process started is stopped by its PID.
"""
import ctypes
import os
import random
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
from tap import Tap  # noqa: E402

DIR = Path(sys.argv[1])
ONLY = sys.argv[2:]
IO_S = 30        # socket timeout: generous, the iterative server serves 50 clients in turn
START_S = 20     # for the "listening on" line
STOP_S = 10      # from the stop signal to the exit of the server and all its processes
SEQUENTIAL = 100
CONCURRENT = 50
WORKERS = 4      # pool size for the preforked and prethreaded servers
HELLO = b"Hello, World!"

# name, program, extra arguments, protocols
SERVERS = [
    ("iterative", "baseline_iterative", [], ["echo", "http"]),
    ("forking", "baseline_forking", [], ["echo", "http"]),
    ("preforked", "baseline_preforked", ["--workers", str(WORKERS)], ["echo", "http"]),
    ("threaded", "baseline_threaded", [], ["echo", "http"]),
    ("prethreaded", "baseline_prethreaded", ["--workers", str(WORKERS)], ["echo", "http"]),
    ("poll", "baseline_poll", [], ["echo", "http"]),
    ("epoll", "baseline_epoll", [], ["echo", "http"]),
    ("epoll --mode lt", "baseline_epoll", ["--mode", "lt"], ["echo"]),
]


# --- /proc ---------------------------------------------------------------------------------------

def stat(pid: int):
    """(state, ppid, start time) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return fields[0], int(fields[1]), int(fields[19])


def children_of(ppid: int) -> dict[int, tuple]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            s = stat(int(entry))
            if s and s[1] == ppid:
                found[int(entry)] = s
    return found


def descendants(pid: int) -> dict[int, tuple]:
    found, todo = {}, [pid]
    while todo:
        for child, s in children_of(todo.pop()).items():
            found[child] = s
            todo.append(child)
    return found


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def wait_until(predicate, seconds: float, what) -> None:
    """Polls predicate() until it holds; `what` (a string, or a callable for the state at the
    deadline) says what did not happen."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {seconds} s: {what() if callable(what) else what}")
        time.sleep(0.02)


def summary(procs: dict[int, tuple]) -> str:
    """At most 5 processes of many, with their states."""
    shown = ", ".join(f"{pid} ({s[0]})" for pid, s in list(procs.items())[:5])
    return f"{len(procs)} process(es): {shown}{', ...' if len(procs) > 5 else ''}"


def become_subreaper() -> None:
    PR_SET_CHILD_SUBREAPER = 36
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def kill_orphans() -> list[int]:
    """Kills and reaps (by PID) every child of this script that is not a running Server."""
    found = [pid for pid in children_of(os.getpid()) if pid not in Server.running]
    for pid in found:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    return found


# --- the server under test -----------------------------------------------------------------------

class Server:
    running: set[int] = set()

    def __init__(self, program: str, args: list[str]) -> None:
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([str(DIR / program), "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=self.stderr)
        Server.running.add(self.proc.pid)
        try:
            self.port = self._read_port()
        except BaseException:
            self.close()
            raise

    def _read_port(self) -> int:
        line = b""
        deadline = time.monotonic() + START_S
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            assert left > 0, "no 'listening on' line"
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                byte = os.read(self.proc.stdout.fileno(), 1)  # unbuffered: select stays true
                assert byte, f"stdout closed (exit {self.proc.poll()}): {self.errors()}"
                line += byte
        text = line.decode().strip()
        assert text.startswith("listening on 127.0.0.1:"), text
        return int(text.rsplit(":", 1)[1])

    def errors(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-2000:]

    def close(self) -> None:
        """Stops it by its PID if it still runs (SIGKILL), and whatever it left behind."""
        if self.proc.poll() is None:
            for pid in descendants(self.proc.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.kill()
        self.proc.wait(timeout=STOP_S)
        Server.running.discard(self.proc.pid)
        kill_orphans()
        self.proc.stdout.close()
        self.stderr.close()


# --- clients -------------------------------------------------------------------------------------

def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=IO_S)
    return s


def recv_exact(s: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = s.recv(min(65536, n - len(data)))
        assert chunk, f"EOF after {len(data)} of {n} bytes"
        data += chunk
    return bytes(data)


def at_eof(s: socket.socket) -> bool:
    """True if the peer closed (FIN, or a reset after the answer was read)."""
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def echo_client(port: int, seed: int) -> None:
    rnd = random.Random(seed)
    with connect(port) as s:
        # Pipelined: three messages sent back to back before any echo is read.
        msgs = [rnd.randbytes(rnd.randint(1, 16384)) for _ in range(3)]
        for m in msgs:
            s.sendall(m)
        expect = b"".join(msgs)
        assert recv_exact(s, len(expect)) == expect, "pipelined echo differs"
        for _ in range(3):  # ping-pong
            m = rnd.randbytes(rnd.randint(1, 2000))
            s.sendall(m)
            assert recv_exact(s, len(m)) == m, "echo differs"
        s.shutdown(socket.SHUT_WR)
        assert at_eof(s), "the server did not close after our EOF"


class HttpConn:
    def __init__(self, port: int) -> None:
        self.s = connect(port)
        self.buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.s.close()

    def send(self, data: bytes) -> None:
        self.s.sendall(data)

    def _fill(self) -> None:
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError("the connection closed before a whole response")
        self.buf += chunk

    def response(self) -> tuple[int, dict, bytes]:
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0].startswith("HTTP/1.1 "), lines[0]
        fields = {}
        for line in lines[1:]:
            name, value = line.split(":", 1)
            fields[name.strip().lower()] = value.strip()
        n = int(fields["content-length"])
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return int(lines[0].split(" ")[1]), fields, body

    def closed(self) -> bool:
        return not self.buf and at_eof(self.s)


def get(target: str, extra: str = "") -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode()


def post(body: bytes) -> bytes:
    return b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def http_client(port: int, seed: int) -> None:
    rnd = random.Random(seed)
    with HttpConn(port) as c:
        c.send(get("/"))
        status, _, body = c.response()
        assert (status, body) == (200, HELLO), (status, body)
        payload = rnd.randbytes(rnd.randint(0, 20000))
        c.send(post(payload))
        status, _, body = c.response()
        assert (status, body) == (200, payload), (status, len(body), len(payload))
        # Pipelined: three requests in one send, answered in order on the kept-alive connection.
        payload = rnd.randbytes(rnd.randint(1, 3000))
        c.send(get("/") + post(payload) + get("/missing"))
        answers = [c.response() for _ in range(3)]
        assert [(s, b) for s, _, b in answers[:2]] == [(200, HELLO), (200, payload)], "pipelined"
        assert answers[2][0] == 404, answers[2]
        c.send(get("/", "Connection: close\r\n"))
        status, fields, body = c.response()
        assert (status, body) == (200, HELLO) and fields.get("connection", "").lower() == "close"
        assert c.closed(), "Connection: close did not close"


def http_edges(port: int) -> None:
    # HTTP/1.0 closes unless asked to keep the connection alive.
    with HttpConn(port) as c:
        c.send(b"GET / HTTP/1.0\r\n\r\n")
        assert c.response()[2] == HELLO and c.closed(), "HTTP/1.0 without keep-alive"
    with HttpConn(port) as c:
        for _ in range(2):
            c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            status, fields, body = c.response()
            assert (status, body) == (200, HELLO) and fields["connection"] == "keep-alive"
    # A request arriving in pieces is answered once its body is complete.
    with HttpConn(port) as c:
        request = post(b"0123456789" * 100)
        for i in range(0, len(request), 300):
            c.send(request[i:i + 300])
            time.sleep(0.01)
        assert c.response()[2] == b"0123456789" * 100
        c.send(b"DELETE / HTTP/1.1\r\nHost: test\r\n\r\n")
        assert c.response()[0] == 405
    # A header block over 16 KiB: refused with 431, or the connection is closed.
    with HttpConn(port) as c:
        try:
            c.send(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
            status = c.response()[0]
        except (EOFError, ConnectionResetError, BrokenPipeError):
            status = None  # closed without an answer: allowed too
        assert status in (None, 431), status
        assert status is None or at_eof(c.s), "not closed after 431"
    # Chunked bodies are not supported: refused (501), never misread as a next request.
    with HttpConn(port) as c:
        c.send(b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        assert c.response()[0] == 501 and c.closed()


def refused_with_400(port: int, request: bytes, what: str) -> None:
    with HttpConn(port) as c:
        c.send(request)
        try:
            status = c.response()[0]
        except (EOFError, ConnectionResetError):
            status = None
        assert status == 400, f"{what}: answered {status}, not 400"
        assert c.closed(), f"{what}: not closed after 400"


def http_smuggling_edges(port: int) -> None:
    """Framing that front ends and back ends may read differently is refused, never guessed."""
    # RFC 9110 §5.5: CR, LF or NUL inside a field value must be refused (or replaced). A bare LF
    # kept in a value hides a field from this server that a proxy reading bare LF as a line end
    # sees (here a Content-Length: the next request would start inside the body).
    refused_with_400(port, b"POST /echo HTTP/1.1\r\nHost: t\r\nX: a\nContent-Length: 5\r\n\r\nhello",
                     "bare LF in a field value")
    refused_with_400(port, b"GET / HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n", "bare CR in a field value")
    refused_with_400(port, b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n", "NUL in a field value")
    refused_with_400(port, b"GET / HTTP/1.1\nHost: t\r\n\r\n", "bare LF ending the request line")
    # RFC 9112 §3.2: an HTTP/1.1 request without Host, or with two, gets 400.
    refused_with_400(port, b"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 without Host")
    refused_with_400(port, b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "two Host fields")
    # Content-Length: two different values, a sign, a number past 64 bits (RFC 9112 §6.3 item 5).
    for value in (b"1\r\nContent-Length: 2", b"-1", b"+3", b"18446744073709551616"):
        refused_with_400(port, b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " + value +
                         b"\r\n\r\nabc", b"Content-Length: " + value)
    # HTTP/1.0 needs no Host; a request sent one byte at a time is answered once complete.
    with HttpConn(port) as c:
        c.send(b"GET / HTTP/1.0\r\n\r\n")
        assert c.response()[:3:2] == (200, HELLO)
    with HttpConn(port) as c:
        for b in post(b"abc"):
            c.send(bytes([b]))
        assert c.response()[2] == b"abc"


def slow_clients_do_not_block_others(port: int) -> None:
    """Slowloris: connections whose header block never ends (fewer than the pool's workers) do
    not keep another client from being answered."""
    slow = [connect(port) for _ in range(WORKERS - 2)]
    try:
        for s in slow:
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        with HttpConn(port) as c:
            c.s.settimeout(5)
            c.send(get("/"))
            status, _, body = c.response()
            assert (status, body) == (200, HELLO), (status, body)
    finally:
        for s in slow:
            s.close()


def vanishing_clients(port: int, proto: str) -> None:
    """Clients that go away mid-request or mid-answer (with a reset) do not hurt the server."""
    for _ in range(3):
        s = connect(port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        if proto == "http":
            s.sendall(b"GET / HTTP/1.1\r\nHo")
        else:
            s.sendall(os.urandom(65536))  # echoes pending when the reset comes
        s.close()
    # Many pipelined requests whose answers the client never reads, then a reset.
    s = connect(port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    try:
        s.sendall((post(b"x" * 1000) if proto == "http" else b"y" * 1000) * 60)
    except OSError:
        pass
    s.close()


def survives_vanishing_clients(server: "Server", proto: str) -> None:
    vanishing_clients(server.port, proto)
    (echo_client if proto == "echo" else http_client)(server.port, 7)
    assert server.proc.poll() is None, f"exited: {server.errors()}"


# --- the checks ----------------------------------------------------------------------------------

def check_clients(server: Server, proto: str, concurrent: bool) -> None:
    client = echo_client if proto == "echo" else http_client
    if not concurrent:
        for i in range(SEQUENTIAL):
            client(server.port, i)
        return
    barrier = threading.Barrier(CONCURRENT, timeout=IO_S)

    def one(i: int) -> None:
        barrier.wait()
        client(server.port, 1000 + i)

    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        for f in [pool.submit(one, i) for i in range(CONCURRENT)]:
            f.result(timeout=IO_S * 4)


def check_processes(name: str, server: Server) -> None:
    """The right number of processes and threads once the clients are done, and no zombie."""
    pid = server.proc.pid
    expected_children = WORKERS if name == "preforked" else 0
    wait_until(lambda: len(descendants(pid)) == expected_children, STOP_S,
               lambda: f"{expected_children} child processes (have {summary(descendants(pid))})")
    zombies = {p: s for p, s in descendants(pid).items() if s[0] == "Z"}
    assert not zombies, f"zombies: {summary(zombies)}"
    expected_threads = 1 + WORKERS if name == "prethreaded" else 1
    wait_until(lambda: thread_count(pid) == expected_threads, STOP_S,
               lambda: f"{expected_threads} threads (have {thread_count(pid)})")


def check_stop(name: str, server: Server, proto: str) -> None:
    """Stops the server while connections are open: exit 0, and nothing left behind."""
    open_conns = []
    try:
        for _ in range(1 if name == "iterative" else 3):  # the iterative server serves only one
            s = connect(server.port)
            open_conns.append(s)
            if proto == "http":  # served (a child or thread holds it) and kept alive
                s.sendall(get("/"))
                assert recv_exact(s, 1) == b"H"
            else:
                s.sendall(b"ping")
                assert recv_exact(s, 4) == b"ping"
        time.sleep(0.05)
        before = descendants(server.proc.pid)
        signo = signal.SIGTERM if proto == "http" else signal.SIGINT
        os.kill(server.proc.pid, signo)
        try:
            rc = server.proc.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {STOP_S} s after {signo.name}") from None
        Server.running.discard(server.proc.pid)
        assert rc == 0, f"exit code {rc} after {signo.name}: {server.errors()}"
        # Whatever it left behind is now this script's child (subreaper), alive or a zombie.
        def gone(pid: int, started: int) -> bool:
            s = stat(pid)
            return s is None or s[2] != started  # gone, or the number reused

        wait_until(lambda: all(gone(p, s[2]) for p, s in before.items()), STOP_S,
                   lambda: "left behind: " + summary({p: s for p, s in before.items()
                                                      if not gone(p, s[2])}))
        leftovers = kill_orphans()
        assert not leftovers, f"processes left behind: {leftovers[:5]} ({len(leftovers)})"
    finally:
        for s in open_conns:
            s.close()


def main() -> int:
    become_subreaper()
    tap = Tap()
    for name, program, args, protocols in SERVERS:
        if ONLY and name not in ONLY:
            continue
        def help_works(program=program):
            r = subprocess.run([str(DIR / program), "--help"], capture_output=True, text=True,
                               timeout=START_S)
            assert r.returncode == 0 and r.stdout.startswith("usage: ") and "--protocol" in r.stdout
        tap.check(f"{name}: --help", help_works)
        for proto in protocols:
            label = f"{name} {proto}"
            try:
                server = Server(program, [*args, "--protocol", proto])
            except Exception as e:  # noqa: BLE001 - reported as failed checks
                def fail(e=e):
                    raise e
                tap.check(f"{label}: starts", fail)
                continue
            try:
                tap.check(f"{label}: {SEQUENTIAL} sequential clients",
                          lambda: check_clients(server, proto, False))
                tap.check(f"{label}: {CONCURRENT} concurrent clients",
                          lambda: check_clients(server, proto, True))
                if proto == "http":
                    tap.check(f"{label}: HTTP/1.0, split body, 405, 431, 501",
                              lambda: http_edges(server.port))
                if proto == "http":
                    tap.check(f"{label}: bare CR/LF/NUL, Host, bad Content-Length refused (400)",
                              lambda: http_smuggling_edges(server.port))
                if proto == "http" and name != "iterative":  # one at a time is its nature
                    tap.check(f"{label}: unfinished header blocks do not block other clients",
                              lambda: slow_clients_do_not_block_others(server.port))
                tap.check(f"{label}: clients vanishing mid-request do no harm",
                          lambda: survives_vanishing_clients(server, proto))
                tap.check(f"{label}: processes and threads back to the pool, no zombie",
                          lambda: check_processes(name, server))
                tap.check(f"{label}: {'SIGTERM' if proto == 'http' else 'SIGINT'} with open "
                          "connections stops it, nothing left behind",
                          lambda: check_stop(name, server, proto))
            finally:
                server.close()
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
