"""A lightweight client for many concurrent SSE streams over loopback (HTTP/1.1, raw asyncio).

Opens N connections at once, POSTs one stream request on each, and records the arrival time of
every `data:` line. It decodes only what it needs: the status line, the framing (chunked,
Content-Length or close-delimited) and the body's lines. One process handles a few thousand
streams; the harness can run several processes and merge their JSON outputs.

Output (JSON on stdout, or --out FILE): per stream [ok, status, open_t, close_t, [event times]]
using time.monotonic() (CLOCK_MONOTONIC, comparable across processes), plus this process's CPU
time and its event-loop lag, so a reader can tell whether the client itself was the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from typing import Any, cast

clock = time.monotonic


class Stream(asyncio.Protocol):
    def __init__(self, request: bytes, done: asyncio.Future[None]) -> None:
        self.request = request
        self.done = done
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.state = "head"  # head -> chunked | length | close -> end
        self.remaining = 0  # bytes left in the current chunk (+2 for CRLF) or in the body
        self.line = b""
        self.status = 0
        self.ok = False
        self.events: list[float] = []
        self.open_t = 0.0
        self.close_t = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transport is not a subclass of asyncio.Transport, but has its methods.
        self.transport = cast(asyncio.Transport, transport)
        self.open_t = clock()
        self.transport.write(self.request)

    def _body(self, data: bytes, now: float) -> None:
        lines = (self.line + data).split(b"\n")
        self.line = lines.pop()
        for line in lines:
            if line.startswith(b"data:"):
                self.events.append(now)

    def _finish(self, ok: bool) -> None:
        if self.state == "end":
            return
        self.state = "end"
        self.ok = ok and self.status == 200
        self.close_t = clock()
        if self.transport is not None:
            self.transport.close()
        if not self.done.done():
            self.done.set_result(None)

    # Each parser of a state takes the unread bytes and returns what is left of them, or None when
    # it needs more bytes to go on (the bytes are then kept for the next read).

    def _head(self, buf: bytes, _now: float) -> bytes | None:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head, rest = buf[:end].lower(), buf[end + 4 :]
        self.status = int(head[9:12])
        if b"transfer-encoding: chunked" in head:
            self.state, self.remaining = "chunked", -1
        elif b"content-length:" in head:
            start = head.index(b"content-length:") + 15
            self.state, self.remaining = "length", int(head[start:].split(b"\r\n", 1)[0])
            if self.remaining == 0:
                self._finish(True)
        else:
            self.state = "close"
        return rest

    def _chunked(self, buf: bytes, now: float) -> bytes | None:
        if self.remaining < 0:  # waiting for a chunk-size line
            end = buf.find(b"\r\n")
            if end < 0:
                return None
            size = int(buf[:end].split(b";", 1)[0], 16)
            if size == 0:
                self._finish(True)
                return b""
            self.remaining = size + 2
            return buf[end + 2 :]
        if not buf:
            return None
        piece, rest = buf[: self.remaining], buf[self.remaining :]
        data_left = self.remaining - 2  # the chunk's own CRLF is not body
        if data_left > 0:
            self._body(piece[:data_left], now)
        self.remaining -= len(piece)
        if self.remaining == 0:
            self.remaining = -1
        return rest

    def _length(self, buf: bytes, now: float) -> bytes | None:
        if not buf:
            return None
        piece, rest = buf[: self.remaining], buf[self.remaining :]
        self.remaining -= len(piece)
        self._body(piece, now)
        if self.remaining == 0:
            self._body(b"\n", now)
            self._finish(True)
        return rest

    def data_received(self, data: bytes) -> None:
        now = clock()
        parsers = {"head": self._head, "chunked": self._chunked, "length": self._length}
        buf = self.buf + data
        while self.state != "end":
            if self.state == "close":  # the body ends when the connection does
                self._body(buf, now)
                self.buf = b""
                return
            rest = parsers[self.state](buf, now)
            if rest is None:
                break
            buf = rest
        self.buf = buf

    def connection_lost(self, exc: Exception | None) -> None:
        if self.state == "close":
            self._body(b"\n", clock())
            self._finish(exc is None)
        else:
            self._finish(False)


async def lag_monitor(stop: asyncio.Event, lags: list[float], period: float = 0.01) -> None:
    while not stop.is_set():
        t = clock()
        await asyncio.sleep(period)
        lags.append(clock() - t - period)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    body = args.body.encode()
    extra = "".join(f"{h}\r\n" for h in args.header)
    request = (
        f"POST {args.path} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
        f"Content-Type: application/json\r\nAccept: text/event-stream\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    if args.start_at:
        await asyncio.sleep(max(0.0, args.start_at - clock()))
    stop = asyncio.Event()
    lags: list[float] = []
    monitor = asyncio.create_task(lag_monitor(stop, lags))
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = clock()
    streams: list[Stream] = []
    connect_errors = 0

    async def one(i: int) -> None:
        nonlocal connect_errors
        if args.ramp:
            await asyncio.sleep(max(0.0, t0 + args.ramp * i / args.streams - clock()))
        done: asyncio.Future[None] = loop.create_future()
        proto = Stream(request, done)
        streams.append(proto)
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: proto, args.host, args.port), args.timeout
            )
            await asyncio.wait_for(done, args.timeout)
        except (OSError, TimeoutError):
            if proto.open_t == 0.0:
                connect_errors += 1
            proto._finish(False)

    await asyncio.gather(*(one(i) for i in range(args.streams)))
    wall = clock() - t0
    stop.set()
    await monitor
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    lags.sort()
    return {
        "streams": [[s.ok, s.status, s.open_t, s.close_t, s.events] for s in streams],
        "connect_errors": connect_errors,
        "wall": wall,
        "cpu": cpu,
        "loop_lag_p99": lags[int(0.99 * (len(lags) - 1))] if lags else 0.0,
        "loop_lag_max": lags[-1] if lags else 0.0,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--streams", type=int, default=100)
    p.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    p.add_argument("--body", default="{}")
    p.add_argument("--timeout", type=float, default=30.0, help="per stream, seconds")
    p.add_argument("--ramp", type=float, default=0.0, help="spread the opens over S seconds")
    p.add_argument("--start-at", type=float, default=0.0, help="time.monotonic() to start at")
    p.add_argument("--out", default="-")
    args = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, args.streams + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    try:
        import uvloop

        result = uvloop.run(run(args))
    except ImportError:
        result = asyncio.run(run(args))
    text = json.dumps(result)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
