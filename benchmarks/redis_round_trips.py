"""Redis commands and round trips of one VIVI request (issue 22 item 4): a count, not a timing.

Starts a redis-server (persistence off) and one ``vivi-emulator serve`` worker on it, watches
Redis with ``MONITOR``, and sends each case's request once warmed up (the case's setup and one
warm-up request first: the scripts loaded, the channels seeded). For each case it prints the
commands the emulator sent (Lua's own calls apart) and the round trips: the read events Redis
processed for the emulator's connections (``INFO stats`` ``total_reads_processed``, less the
reads of the ``INFO`` and marker commands of this tool), since one pipeline is one write.

    .venv/bin/python -m benchmarks.redis_round_trips [--json]
"""

# ruff: noqa: S603  (fixed argv built here, no shell)
from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
KEY = {"vivi-api-key": "demo-key"}
CHANNEL = "/channelsApi/demo-channel"
THREADS = [f"0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e1{n}" for n in range(3)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _resp(*words: str) -> bytes:
    out = f"*{len(words)}\r\n".encode()
    for word in words:
        out += f"${len(word.encode())}\r\n{word}\r\n".encode()
    return out


class Monitor:
    """``MONITOR`` on its own connection: every command Redis runs, as a line, kept in order."""

    def __init__(self, port: int) -> None:
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self._sock.sendall(_resp("MONITOR"))
        self.lines: list[str] = []
        self._buffer = b""
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with contextlib.suppress(OSError):
            while chunk := self._sock.recv(65536):
                self._buffer += chunk
                *done, self._buffer = self._buffer.split(b"\r\n")
                with self._lock:
                    self.lines += [d.decode("utf-8", "replace") for d in done]

    def between(self, start: str, end: str, timeout: float = 10.0) -> list[str]:
        """The lines between two marker commands (``ECHO start`` ... ``ECHO end``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                lines = list(self.lines)
            marks = [i for i, line in enumerate(lines) if f'"ECHO" "{start}"' in line]
            ends = [i for i, line in enumerate(lines) if f'"ECHO" "{end}"' in line]
            if marks and ends:
                return lines[marks[-1] + 1 : ends[-1]]
            time.sleep(0.05)
        raise RuntimeError(f"markers {start}/{end} not seen")

    def close(self) -> None:
        self._sock.close()


class Redis:
    """A redis-server of this tool's own, and a plain connection for INFO and markers."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed")
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(workdir)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                self._sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def command(self, *words: str) -> bytes:
        self._sock.sendall(_resp(*words))
        data = self._sock.recv(65536)
        if data.startswith(b"$"):  # a bulk reply: read all of it
            size = int(data[1 : data.index(b"\r\n")])
            while len(data) < data.index(b"\r\n") + 2 + size + 2:
                data += self._sock.recv(65536)
        return data

    def reads(self) -> int:
        info = self.command("INFO", "stats").decode()
        for line in info.splitlines():
            if line.startswith("total_reads_processed:"):
                return int(line.split(":")[1])
        raise RuntimeError("no total_reads_processed in INFO stats")

    def stop(self) -> None:
        self._sock.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)


@dataclass
class Count:
    case: str
    round_trips: int
    commands: Counter[str] = field(default_factory=Counter)
    lua: Counter[str] = field(default_factory=Counter)


def _count(redis: Redis, monitor: Monitor, case: str, request: Callable[[], None]) -> Count:
    before = redis.reads()  # INFO's own read is counted in its own figure
    redis.command("ECHO", f"start-{case}")
    request()
    redis.command("ECHO", f"end-{case}")
    after = redis.reads()
    lines = monitor.between(f"start-{case}", f"end-{case}")
    count = Count(case, after - before - 2)  # the two markers' reads (the second INFO's is
    # counted in ``after`` too: it was processed before its reply was made)
    count.round_trips -= 1
    for line in lines:
        word = line.split('"')[1].upper() if '"' in line else line
        (count.lua if "lua]" in line else count.commands)[word] += 1
    return count


@contextlib.contextmanager
def _emulator(redis_url: str, workdir: Path) -> Iterator[str]:
    port = _free_port()
    argv = [str(REPO / ".venv/bin/vivi-emulator"), "serve", "--port", str(port)]
    argv += ["--state", redis_url, "--latency", "none", "--workers", "1", "--no-reload"]
    log = (workdir / "serve.log").open("wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx.get(base + "/_emulator/channels", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the emulator did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


class _Requests:
    """Each case's setup and request, against one emulator."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def _message(self, thread: int, **headers: str) -> httpx.Response:
        body = {"message": "hi", "threadId": THREADS[thread]}
        return self.http.post(CHANNEL + "/invoke", json=body, headers={**KEY, **headers})

    def invoke(self) -> None:
        assert self._message(0).status_code == 200

    def stream(self) -> None:
        body = {"message": "hi", "threadId": THREADS[1]}
        with self.http.stream("POST", CHANNEL + "/stream", json=body, headers=KEY) as reply:
            assert reply.status_code == 200
            reply.read()

    def refused(self) -> None:
        assert self._message(2, **{"x-vivi-scenario": "rate-limited"}).status_code == 429

    def invalid(self) -> None:
        body = {"message": "hi"}  # no threadId
        assert self.http.post(CHANNEL + "/invoke", json=body, headers=KEY).status_code == 422

    def nothing(self) -> None:
        pass

    def limits_on(self) -> None:
        limits = {"requests_per_minute": 100000, "tokens_per_minute": 10000000}
        limits["concurrent_streams"] = 100
        assert self.http.put("/_emulator/rate-limits", json=limits).status_code == 200

    def limits_off(self) -> None:
        assert self.http.delete("/_emulator/rate-limits").status_code == 200

    def queue_waiting(self) -> None:
        self.limits_off()
        # A reply that waits for a message no case sends: each request looks at the queue.
        reply = {"text": "later", "match": {"message": {"contains": "never-sent"}}}
        self.queue_empty()
        assert self.http.post("/_emulator/queue", json=reply).status_code == 201

    def queue_one(self) -> None:
        self.queue_empty()
        assert self.http.post("/_emulator/queue", json={"text": "queued"}).status_code == 201

    def queue_empty(self) -> None:
        self.http.delete("/_emulator/queue")


def _cases(http: httpx.Client) -> list[tuple[str, Callable[[], None], Callable[[], None]]]:
    """(name, setup, request): each request is sent once after its setup and one warm-up."""
    r = _Requests(http)
    return [
        ("invoke", r.limits_off, r.invoke),
        ("stream", r.nothing, r.stream),
        ("invoke, rate limits on", r.limits_on, r.invoke),
        ("stream, rate limits on", r.nothing, r.stream),
        ("invoke, a conditional reply queued", r.queue_waiting, r.invoke),
        ("invoke, consuming a queued reply", r.queue_one, r.invoke),
        ("invoke, a scripted 429", r.queue_empty, r.refused),
        ("invoke, a body error (422)", r.nothing, r.invalid),
    ]


def measure() -> list[Count]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        redis = Redis(workdir)
        try:
            with _emulator(f"redis://127.0.0.1:{redis.port}/0", workdir) as base:
                monitor = Monitor(redis.port)
                counts = []
                with httpx.Client(base_url=base, timeout=30) as http:
                    for name, setup, request in _cases(http):
                        setup()
                        request()  # warm: scripts loaded, channels seeded, thread open
                        setup()
                        counts.append(_count(redis, monitor, name.replace(" ", "_"), request))
                        counts[-1].case = name
                    counts.insert(0, _count(redis, monitor, "idle", lambda: None))
                    counts[0].case = "(nothing: this tool's own reads)"
                monitor.close()
                return counts
        finally:
            redis.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON, not a table")
    args = parser.parse_args(argv)
    counts = measure()
    if args.json:
        rows = [
            {"case": c.case, "round_trips": c.round_trips, "commands": dict(c.commands)}
            for c in counts
        ]
        json.dump(rows, sys.stdout, indent=2)
        return 0
    print("| request | round trips | commands sent (Lua's own calls not counted) |")
    print("|---|---|---|")
    for c in counts:
        sent = ", ".join(f"{n} {word}" for word, n in sorted(c.commands.items()))
        print(f"| {c.case} | {c.round_trips} | {sum(c.commands.values())}: {sent or '-'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
