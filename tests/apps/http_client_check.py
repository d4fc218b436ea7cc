#!/usr/bin/env python3
"""Drives apps/http_server with Python's http.client (an independent HTTP/1.1 client).

Usage: http_client_check.py PORT. Prints one line per check; exits 0 if all pass, 1 otherwise.
Every socket operation has a 5 s timeout, so the script cannot hang.
"""
import http.client
import sys

port = int(sys.argv[1])
failures = []


def check(name, condition):
    print(("ok   " if condition else "FAIL ") + name)
    if not condition:
        failures.append(name)


conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
conn.request("GET", "/")
r = conn.getresponse()
body = r.read()
check("GET / is 200 Hello, World!", r.status == 200 and body == b"Hello, World!")
check("GET / has Date", r.getheader("Date", "").endswith(" GMT"))
sock = conn.sock

conn.request("POST", "/echo", body=b"some body", headers={"Content-Type": "text/plain"})
r = conn.getresponse()
check("POST /echo echoes the body", r.status == 200 and r.read() == b"some body")
check("the connection was kept alive", conn.sock is sock)

conn.request("POST", "/echo", body=iter([b"chunk one, ", b"chunk two"]), encode_chunked=True)
r = conn.getresponse()
check("chunked POST /echo echoes the decoded body", r.status == 200 and r.read() == b"chunk one, chunk two")

conn.request("HEAD", "/")
r = conn.getresponse()
check("HEAD / has Content-Length 13 and no body",
      r.status == 200 and r.getheader("Content-Length") == "13" and r.read() == b"")

conn.request("GET", "/echo", headers={"X-Probe": "42"})
r = conn.getresponse()
text = r.read().decode()
check("GET /echo shows the request line and fields",
      r.status == 200 and text.startswith("GET /echo HTTP/1.1\r\n") and "X-Probe: 42\r\n" in text)

conn.request("GET", "/nothing-here")
r = conn.getresponse()
check("an unknown path is 404", r.status == 404 and r.read() == b"Not Found\n")

conn.request("DELETE", "/")
r = conn.getresponse()
check("a known path with another method is 405 with Allow",
      r.status == 405 and r.getheader("Allow") == "GET, HEAD" and len(r.read()) > 0)

conn.request("GET", "/", headers={"Connection": "close"})
r = conn.getresponse()
check("Connection: close is echoed", r.getheader("Connection") == "close" and r.read() == b"Hello, World!")
conn.close()

sys.exit(1 if failures else 0)
