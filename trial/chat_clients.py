#!/usr/bin/env python3
"""Trial of examples/chat_server with 3 clients (loopback, port 0, stopped by PID)."""
import os, re, signal, socket, subprocess, sys, time

exe = sys.argv[1]
extra = sys.argv[2:]
p = subprocess.Popen([exe, "--port", "0", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
line = p.stdout.readline()
print("server said:", line.strip())
m = re.search(r":(\d+)\s*$", line)
port = int(m.group(1))

def recv_all(s, t=0.5):
    s.settimeout(t)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                out += b"<EOF>"
                break
            out += d
    except socket.timeout:
        pass
    return out.decode(errors="replace")

cs = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
time.sleep(0.2)
for i, c in enumerate(cs):
    print(f"client {i} on join:", repr(recv_all(c, 0.3)))
cs[0].sendall(b"hello from 0\n")
cs[1].sendall(b"hi from 1\n")
time.sleep(0.3)
for i, c in enumerate(cs):
    print(f"client {i} got:", repr(recv_all(c, 0.3)))
# over-long line
cs[2].sendall(b"x" * 5000 + b"\nafter long\n")
time.sleep(0.3)
for i, c in enumerate(cs):
    print(f"client {i} after long line:", repr(recv_all(c, 0.3)))
# partial line then close
cs[2].sendall(b"no newline")
cs[2].close()
time.sleep(0.3)
for i, c in enumerate(cs[:2]):
    print(f"client {i} after 2 left:", repr(recv_all(c, 0.3)))
# a client that never reads, while 0 floods (backlog)
os.kill(p.pid, signal.SIGTERM)
try:
    rc = p.wait(5)
except subprocess.TimeoutExpired:
    p.kill(); rc = "killed"
for i, c in enumerate(cs[:2]):
    print(f"client {i} at stop:", repr(recv_all(c, 0.5)))
print("exit:", rc, "stderr:", repr(p.stderr.read()))
