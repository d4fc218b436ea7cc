#!/usr/bin/env python3
"""Trial of apps echo_server/http_server --threads 2 with a few clients (loopback, port 0, stop by PID)."""
import re, signal, socket, subprocess, sys, time, http.client

exe, kind = sys.argv[1], sys.argv[2]
extra = sys.argv[3:]
p = subprocess.Popen([exe, "--port", "0", "--threads", "2", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
line = p.stdout.readline()
print("server said:", line.strip())
port = int(re.search(r":(\d+)\s*$", line).group(1))
ok = 0
for i in range(20):
    if kind == "echo":
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"ping %d\n" % i)
        d = s.recv(100)
        ok += d == b"ping %d\n" % i
        s.close()
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/")
        r = c.getresponse()
        ok += r.status == 200 and r.read() == b"Hello, World!"
        c.request("POST", "/echo", body=b"abc")
        r = c.getresponse()
        ok += r.status == 200 and r.read() == b"abc"
        c.close()
print("ok replies:", ok)
p.send_signal(signal.SIGTERM)
try:
    rc = p.wait(5)
except subprocess.TimeoutExpired:
    p.kill(); rc = "killed"
print("exit:", rc)
print("stdout rest:", p.stdout.read())
print("stderr:", p.stderr.read())
