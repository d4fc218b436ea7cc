#!/usr/bin/env python3
"""Runs each example in examples/ briefly on loopback (port 0) and checks what it prints.

Usage: examples_test.py ECHO TCP_CLIENT TICKER UDP_ECHO   (the built programs; output is TAP)
Every process started here is stopped by its PID; every wait is bounded.
"""
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))
from tap import Tap  # noqa: E402

ECHO, CLIENT, TICKER, UDP_ECHO = sys.argv[1:5]
WAIT_S = 20  # bound on any single wait; normal runs take milliseconds


class Program:
    """A started example; stopped (SIGKILL if need be) by its PID when the block ends."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buffered = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=WAIT_S)

    def read_line(self) -> str:
        deadline = time.monotonic() + WAIT_S
        while b"\n" not in self.buffered:
            left = deadline - time.monotonic()
            assert left > 0, f"no line from {self.proc.args[0]} within {WAIT_S} s"
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = self.proc.stdout.read()
                assert chunk, f"{self.proc.args[0]} closed its stdout (exit {self.proc.poll()})"
                self.buffered += chunk
        line, self.buffered = self.buffered.split(b"\n", 1)
        return line.decode()

    def port(self) -> int:
        line = self.read_line()
        assert line.startswith("listening on "), line
        return int(line.rsplit(":", 1)[1])

    def stop(self, signo: int) -> tuple[int, str, str]:
        """Sends signo and waits for the exit: (exit code, rest of stdout, stderr)."""
        os.kill(self.proc.pid, signo)
        os.set_blocking(self.proc.stdout.fileno(), True)
        out, err = self.proc.communicate(timeout=WAIT_S)
        return self.proc.returncode, (self.buffered + out).decode(), err.decode()


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=WAIT_S)


def help_works(program: str):
    def check():
        r = run(program, "--help")
        assert r.returncode == 0 and r.stdout.startswith("usage: "), (r.returncode, r.stdout)
    return check


def client_gets_its_echo():
    with Program(ECHO, "--port", "0") as echo:
        port = echo.port()
        r = run(CLIENT, "--port", str(port), "--message", "hello coil")
        assert r.returncode == 0, (r.returncode, r.stderr)
        assert r.stdout == "hello coil\n", r.stdout
        code, _, err = echo.stop(signal.SIGTERM)
        assert code == 0, code
        # coil logs warnings only by default: a normal run prints nothing on stderr.
        assert err == "", err


def verbose_reports_the_backend():
    with Program(ECHO, "--port", "0", "--verbose") as echo:
        echo.port()
        code, _, err = echo.stop(signal.SIGINT)
        assert code == 0, code
        assert "coil: backend " in err, err


def client_reports_a_refused_connection():
    with socket.socket() as s:  # a port that was just free: nobody listens there now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run(CLIENT, "--port", str(port))
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "connect to 127.0.0.1:" in r.stderr and "refused" in r.stderr, r.stderr


def client_reply_deadline_expires():
    # A listener that never accepts: the kernel completes the handshake, no reply ever comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        start = time.monotonic()
        r = run(CLIENT, "--port", str(silent.getsockname()[1]), "--reply-timeout", "200")
        elapsed = time.monotonic() - start
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "reply: deadline expired" in r.stderr, r.stderr
    assert elapsed >= 0.2, elapsed  # not before the deadline


def client_reports_a_server_that_closes_mid_reply():
    # Regression: with_timeout hid recv_exact's eof inside its value, so the client printed a
    # truncated reply and exited 0. A server that answers 2 bytes of 5 and closes.
    import threading
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(WAIT_S)

        def answer_short():
            conn, _ = server.accept()
            with conn:
                conn.settimeout(WAIT_S)
                conn.recv(16)
                conn.sendall(b"he")

        peer = threading.Thread(target=answer_short)
        peer.start()
        r = run(CLIENT, "--port", str(server.getsockname()[1]), "--message", "hello")
        peer.join(WAIT_S)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "reply: end of stream" in r.stderr, r.stderr


def ticker_stops_after_count():
    r = run(TICKER, "--interval", "10", "--count", "3")
    assert r.returncode == 0, (r.returncode, r.stderr)
    lines = r.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["tick 1", "tick 2", "tick 3"], lines
    assert lines[3].startswith("stopped (count reached) after 3 ticks"), lines


def ticker_stops_gracefully_on_sigint():
    with Program(TICKER, "--interval", "20") as ticker:
        assert ticker.read_line().startswith("tick 1:")
        code, out, err = ticker.stop(signal.SIGINT)
        assert code == 0, (code, err)
        summary = out.splitlines()[-1]
        assert summary.startswith("stopped (Interrupt") and " ticks; " in summary, out


def udp_client_gets_its_echo():
    with Program(UDP_ECHO, "--port", "0") as server:
        port = server.port()
        r = run(UDP_ECHO, "--client", "--port", str(port), "--message", "hello udp")
        assert r.returncode == 0, (r.returncode, r.stderr)
        assert r.stdout == "hello udp\n", r.stdout
        # Any UDP peer gets its datagram back, from the server's address, and so does an empty one.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.settimeout(WAIT_S)
            for payload in (b"raw", b""):
                peer.sendto(payload, ("127.0.0.1", port))
                data, source = peer.recvfrom(100)
                assert (data, source) == (payload, ("127.0.0.1", port)), (data, source)
        code, _, err = server.stop(signal.SIGTERM)
        assert code == 0, code
        assert err == "", err


def udp_server_stops_on_sigint():
    with Program(UDP_ECHO, "--port", "0") as server:
        server.port()
        code, _, err = server.stop(signal.SIGINT)
        assert code == 0, (code, err)


def udp_client_reply_deadline_expires():
    # A bound UDP socket that never answers: the datagram is delivered, no echo ever comes.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        start = time.monotonic()
        r = run(UDP_ECHO, "--client", "--port", str(silent.getsockname()[1]), "--timeout", "200")
        elapsed = time.monotonic() - start
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "reply: deadline expired" in r.stderr, r.stderr
    assert elapsed >= 0.2, elapsed  # not before the deadline


def main() -> int:
    tap = Tap()
    for program in (ECHO, CLIENT, TICKER, UDP_ECHO):
        tap.check(f"{Path(program).name} --help prints its usage", help_works(program))
    tap.check("tcp_client gets its message back from echo; echo is quiet and exits 0 on SIGTERM",
              client_gets_its_echo)
    tap.check("echo --verbose logs the backend choice", verbose_reports_the_backend)
    tap.check("tcp_client reports a refused connection (exit 1)", client_reports_a_refused_connection)
    tap.check("tcp_client's reply deadline expires as timed_out (exit 1)", client_reply_deadline_expires)
    tap.check("tcp_client reports a server that closes mid-reply (exit 1)",
              client_reports_a_server_that_closes_mid_reply)
    tap.check("udp_echo --client gets its datagram back; any peer does, an empty datagram too; "
              "the server is quiet and exits 0 on SIGTERM", udp_client_gets_its_echo)
    tap.check("udp_echo's server exits 0 on SIGINT", udp_server_stops_on_sigint)
    tap.check("udp_echo --client's reply deadline expires as timed_out (exit 1)",
              udp_client_reply_deadline_expires)
    tap.check("ticker stops after --count ticks", ticker_stops_after_count)
    tap.check("ticker stops gracefully on SIGINT", ticker_stops_gracefully_on_sigint)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
