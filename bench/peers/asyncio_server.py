#!/usr/bin/env python3
"""asyncio_server.py - the Python asyncio peer of bench/arch_bench.py: one process, one event loop
(asyncio.start_server), minimal HTTP/1.1 with keep-alive, the same answers as the baselines.

  GET /      -> 200 "Hello, World!"
  /echo      -> 200 with the request body (Content-Length bodies only)
  otherwise  -> 404
Keep-alive is HTTP/1.1's default; "Connection: close" (or HTTP/1.0 without "keep-alive") closes
after the answer. Prints "listening on 127.0.0.1:PORT" once it accepts; SIGTERM stops it (exit 0).

usage: asyncio_server.py [--port N] [--backlog N]   (port 0, the default, lets the kernel choose)
"""
import argparse
import asyncio
import signal
import sys

HELLO = b"Hello, World!"
MAX_HEAD = 32 * 1024
MAX_BODY = 1 << 20


def response(status: str, body: bytes, close: bool) -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
            + ("Connection: close\r\n" if close else "") + "\r\n").encode() + body


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.LimitOverrunError:
                writer.write(response("431 Request Header Fields Too Large", b"", True))
                break
            except asyncio.IncompleteReadError:
                break  # the client closed between requests (or mid-head)
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                writer.write(response("400 Bad Request", b"", True))
                break
            method, target, version = parts
            fields = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    fields[name.strip().lower()] = value.strip()
            conn = fields.get("connection", "").lower()
            close = "close" in conn or (version == "HTTP/1.0" and "keep-alive" not in conn)
            length = int(fields.get("content-length", "0") or 0)
            if length < 0 or length > MAX_BODY:
                writer.write(response("413 Content Too Large", b"", True))
                break
            body = await reader.readexactly(length) if length else b""
            if target == "/echo":
                out = response("200 OK", body, close)
            elif target == "/" and method in ("GET", "HEAD"):
                out = response("200 OK", HELLO, close)
            else:
                out = response("404 Not Found", b"", close)
            writer.write(out)
            await writer.drain()
            if close:
                break
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="asyncio_server.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--backlog", type=int, default=4096)
    cfg = p.parse_args(argv)
    # The handlers go in before the 'listening on' line: a harness may send SIGTERM as soon as it
    # reads it (arch_bench's probe does), which otherwise killed the process (exit 143).
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(serve, "127.0.0.1", cfg.port, backlog=cfg.backlog,
                                        limit=MAX_HEAD)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on 127.0.0.1:{port}", flush=True)
    await stop.wait()
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
