#!/usr/bin/env python3
"""chat_server: a client that never reads is dropped (--backlog / --deadline)."""
import re, signal, socket, subprocess, sys, time
exe = sys.argv[1]
p = subprocess.Popen([exe, "--port", "0", *sys.argv[2:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
port = int(re.search(r":(\d+)\s*$", p.stdout.readline()).group(1))
talker = socket.create_connection(("127.0.0.1", port))
sleeper = socket.socket(); sleeper.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
sleeper.connect(("127.0.0.1", port))
time.sleep(0.2)
line = b"y" * 1000 + b"\n"
talker.settimeout(0.01)
got = b""
t0 = time.time()
while time.time() - t0 < 3:
    try:
        talker.sendall(line * 50)
    except socket.timeout:
        pass
    try:
        got += talker.recv(65536)
    except socket.timeout:
        pass
print("talker saw:", [l for l in got.decode(errors="replace").split("\n") if l.startswith("*")])
sleeper.settimeout(0.2)
data = b""
try:
    while True:
        d = sleeper.recv(1 << 20)
        if not d: data += b"<EOF>"; break
        data += d
except socket.timeout:
    data += b"<still open>"
print("sleeper: %d bytes, ends %r" % (len(data), data[-40:]))
p.send_signal(signal.SIGTERM)
print("exit", p.wait(5), p.stderr.read())
