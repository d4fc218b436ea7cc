#!/usr/bin/env python3
"""Runs each example in examples/ briefly on loopback (port 0) and checks what it prints.

Usage: examples_test.py ECHO TCP_CLIENT TICKER UNIX_ECHO CHAT_SERVER UDP_ECHO   (the built programs; TAP)
Every process started here is stopped by its PID; every wait is bounded.
"""
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))
from tap import Tap  # noqa: E402

ECHO, CLIENT, TICKER, UNIX_ECHO, CHAT, UDP_ECHO = sys.argv[1:7]
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


class LineClient:
    """A TCP or Unix socket client reading whole lines, every wait bounded by WAIT_S."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(WAIT_S)
        self.buffered = b""

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode())

    def read_line(self) -> str:
        while b"\n" not in self.buffered:
            chunk = self.sock.recv(4096)
            assert chunk, f"connection closed; had {self.buffered!r}"
            self.buffered += chunk
        line, self.buffered = self.buffered.split(b"\n", 1)
        return line.decode()

    def lines_until(self, wanted: str) -> list[str]:
        """The lines read up to and including `wanted` (which must come within WAIT_S)."""
        lines = []
        while not lines or lines[-1] != wanted:
            lines.append(self.read_line())
        return lines

    def read_to_eof(self) -> bytes:
        data = self.buffered
        while chunk := self.sock.recv(4096):
            data += chunk
        return data

    def close(self) -> None:
        self.sock.close()


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


def unix_echo_echoes_and_removes_its_socket_file():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "echo.sock")
        with Program(UNIX_ECHO, "--path", path) as server:
            assert server.read_line() == f"listening on {path}"
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(WAIT_S)
                s.connect(path)
                s.sendall(b"hello unix")
                got = b""
                while len(got) < 10:
                    chunk = s.recv(64)
                    assert chunk, got
                    got += chunk
                assert got == b"hello unix", got
            line = server.read_line()
            assert line == f"connection from pid {os.getpid()} uid {os.getuid()}", line
            code, _, err = server.stop(signal.SIGTERM)
            assert code == 0 and err == "", (code, err)
        assert not os.path.exists(path), "socket file left behind"


def unix_echo_replaces_a_stale_socket_file_and_refuses_a_regular_one():
    with tempfile.TemporaryDirectory() as tmp:
        stale = os.path.join(tmp, "stale.sock")
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(stale)  # closed without listening: the file stays, nobody answers
        with Program(UNIX_ECHO, "--path", stale) as server:
            assert server.read_line() == f"listening on {stale}"
            code, _, _ = server.stop(signal.SIGINT)
            assert code == 0, code
        regular = os.path.join(tmp, "notes.txt")
        Path(regular).write_text("mine")
        r = run(UNIX_ECHO, "--path", regular)
        assert r.returncode == 1 and "Address already in use" in r.stderr, (r.returncode, r.stderr)
        assert Path(regular).read_text() == "mine"


def unix_echo_on_an_abstract_name():
    name = f"coil-examples-test-{os.getpid()}"
    with Program(UNIX_ECHO, "--abstract", name) as server:
        assert server.read_line() == f"listening on @{name}"
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(WAIT_S)
            s.connect("\0" + name)
            s.sendall(b"abstract")
            assert s.recv(64) == b"abstract"
        code, _, _ = server.stop(signal.SIGTERM)
        assert code == 0, code


def chat_client(port: int) -> tuple[LineClient, str]:
    c = LineClient(socket.create_connection(("127.0.0.1", port), timeout=WAIT_S))
    welcome = c.read_line()
    assert welcome.startswith("welcome, you are "), welcome
    return c, welcome.rsplit(" ", 1)[1]


def chat_three_clients_see_each_other_not_themselves():
    with Program(CHAT, "--port", "0") as server:
        port = server.port()
        a, a_name = chat_client(port)
        b, b_name = chat_client(port)
        c, c_name = chat_client(port)
        a.lines_until(f"* {c_name} joined")  # everyone is in the room now
        b.lines_until(f"* {c_name} joined")
        a.send("hello from a\n")
        for other in (b, c):
            other.lines_until(f"{a_name}: hello from a")
        b.send("hi from b\r\n")  # CRLF: the CR is not part of the line
        for other in (a, c):
            other.lines_until(f"{b_name}: hi from b")
        # a's own line never came back to a: b's line, sent after b saw a's, arrived without it.
        c.send("marker\n")
        seen_by_a = a.lines_until(f"{c_name}: marker")
        assert not any("hello from a" in line for line in seen_by_a), seen_by_a
        # A client leaves; the others are told and go on talking.
        c.close()
        a.lines_until(f"* {c_name} left")
        b.lines_until(f"* {c_name} left")
        b.send("still here\n")
        a.lines_until(f"{b_name}: still here")
        # An over-long line is skipped, its sender told; the next line goes through.
        b.send("x" * 3000 + "\nafter\n")
        b.lines_until("line too long, skipped")
        seen_by_a = a.lines_until(f"{b_name}: after")
        assert not any("xxx" in line for line in seen_by_a), seen_by_a
        code, out, err = server.stop(signal.SIGTERM)
        assert code == 0 and err == "", (code, err)
        # Shutdown: the remaining client is told (a shielded send) before its connection ends.
        assert a.read_to_eof().decode().endswith("server stopping, bye\n")
        a.close()
        b.close()


def silent_chat_socket(port: int) -> socket.socket:
    """A chat connection that will never read, with a small receive buffer: deliveries to it
    back up at once."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(WAIT_S)
    sock.connect(("127.0.0.1", port))
    return sock


def talk_until_a_silent_client_is_dropped(*chat_args: str) -> None:
    """Runs the chat server with `chat_args`; a talker sends 1000-byte lines (and reads what comes
    back) until it is told that a client that never reads left, within WAIT_S. The server must
    then stop cleanly on SIGTERM."""
    with Program(CHAT, "--port", "0", *chat_args) as server:
        port = server.port()
        talker, _ = chat_client(port)
        silent_sock = silent_chat_socket(port)
        silent_name = talker.read_line().split()[1]  # "* guestN joined"
        lines = ("y" * 999 + "\n").encode() * 64
        pending = b""
        deadline = time.monotonic() + WAIT_S
        left = f"* {silent_name} left"
        talker.sock.setblocking(False)
        seen = ""
        while left not in seen:
            assert time.monotonic() < deadline, "the silent client was never dropped"
            try:
                pending = pending or lines
                pending = pending[talker.sock.send(pending):]
            except BlockingIOError:
                pass
            try:
                chunk = talker.sock.recv(4096)
                assert chunk, "the server closed the talker"
                seen = (seen + chunk.decode())[-4096:]
            except BlockingIOError:
                time.sleep(0.001)
        silent_sock.close()
        talker.close()
        code, _, err = server.stop(signal.SIGTERM)
        assert code == 0 and err == "", (code, err)


def chat_drops_a_client_that_does_not_read():
    # --backlog too large to matter: only the deadline may drop the client here. The talk goes
    # on until the silent client's socket buffers (a few MB at most) fill up; then a delivery
    # misses its 200 ms deadline.
    talk_until_a_silent_client_is_dropped("--deadline", "200", "--backlog", "1000000")


def chat_drops_a_client_whose_backlog_is_full():
    # A client that never reads, and a deadline too long to matter: a talker queues lines for it
    # far faster than any deadline expires (each waiting delivery holds memory). The server must
    # drop it once --backlog lines wait for it (default 256), not let the queue grow with the talk.
    talk_until_a_silent_client_is_dropped("--deadline", "3600000")


def chat_sigterm_mid_delivery_never_glues_the_goodbye_to_a_cut_line():
    # A client that does not read while a burst is delivered to it: its delivery is stuck part
    # way through a line when SIGTERM comes and cancels it. The goodbye (sent under shield) must
    # not follow the cut line's first half on the same line: the server drops such a client
    # instead (a cut line at the very end, then EOF, is all it may see of it).
    with Program(CHAT, "--port", "0", "--deadline", "60000", "--backlog", "100000") as server:
        port = server.port()
        watcher, _ = chat_client(port)
        talker, talker_name = chat_client(port)
        watcher.lines_until(f"* {talker_name} joined")
        silent_sock = silent_chat_socket(port)
        silent = LineClient(silent_sock)
        silent_name = watcher.read_line().split()[1]  # "* guestN joined"
        talker.lines_until(f"* {silent_name} joined")
        line = "y" * 999
        count = 4000  # 4 MB: far more than the silent client's socket buffers hold
        talker.send((line + "\n") * count + "marker\n")
        # The watcher has every line once all the deliveries exist; the silent one's are stuck.
        seen = watcher.lines_until(f"{talker_name}: marker")
        assert seen.count(f"{talker_name}: {line}") == count, len(seen)
        os.kill(server.proc.pid, signal.SIGTERM)
        data = silent.read_to_eof()
        code = server.proc.wait(timeout=WAIT_S)
        err = server.proc.stderr.read().decode()
        assert code == 0 and err == "", (code, err)
        whole = {f"{talker_name}: {line}", f"{talker_name}: marker", "server stopping, bye"}
        *complete, _cut = data.decode().split("\n")
        bad = [l for l in complete if l not in whole and not l.startswith(("welcome, you are ", "* "))]
        assert not bad, [b[:40] + "..." + b[-40:] for b in bad]
        for c in (watcher, talker, silent):
            c.close()


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
    for program in (ECHO, CLIENT, TICKER, UNIX_ECHO, CHAT, UDP_ECHO):
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
    tap.check("unix_echo echoes over a socket file, reports the peer, removes the file on SIGTERM",
              unix_echo_echoes_and_removes_its_socket_file)
    tap.check("unix_echo replaces a stale socket file and refuses (and keeps) a regular file",
              unix_echo_replaces_a_stale_socket_file_and_refuses_a_regular_one)
    tap.check("unix_echo on an abstract name", unix_echo_on_an_abstract_name)
    tap.check("chat_server: three clients see each other's lines, not their own; a leaving client "
              "and an over-long line (skipped) are handled; SIGTERM says goodbye",
              chat_three_clients_see_each_other_not_themselves)
    tap.check("chat_server drops a client that does not read once a delivery misses its deadline",
              chat_drops_a_client_that_does_not_read)
    tap.check("chat_server drops a client that does not read once --backlog lines wait for it",
              chat_drops_a_client_whose_backlog_is_full)
    tap.check("chat_server: SIGTERM while a delivery is cut mid-line never glues the goodbye to "
              "the cut line", chat_sigterm_mid_delivery_never_glues_the_goodbye_to_a_cut_line)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
