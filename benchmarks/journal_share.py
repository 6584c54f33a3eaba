"""The share of a constant stream's CPU that journaling costs, measured in process (issue 22).

    python benchmarks/journal_share.py [--requests N] [--rounds R] [--fixed-headers]

The emulator's app (default settings and fixtures, state in memory, the access log on and
written, as ``serve`` writes it, to a null stream) answers the benchmarks' stream request
(``wrk/stream.lua``: "hello", one thread) through its ASGI adapter, driven by a bare ASGI
``receive``/``send`` in this process: no socket, no server, no client, so every figure is the
app's own work, and journaling's share of it is an upper bound of its share under a server.
Each request carries a ``traceparent`` and an ``x-request-id`` of its own, as real clients send
them (``--fixed-headers``: the same headers on every request).

Two figures, because a profiler inflates function calls:

- **profile**: cProfile over one run; journaling is the cumulative time of
  ``Journaling.entry`` (making the entry: its headers, body, events, redaction, and the
  metrics and span it feeds) plus the memory store's journal append, over the cumulative time
  of the adapter's ``__call__`` (one request's whole work).
- **CPU**: process CPU time per request of the app as it is, against the same app whose
  journaling hands back one ready-made entry (the store still keeps it), in alternating
  rounds; the share is the difference over the first, the median of the rounds.

Every response's bytes are checked to be the first one's: the measure never drifts into
answering something else.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

from starlette.types import Message

from vivi_emulator.access_log import configure_logging
from vivi_emulator.app import ViviApp, create_app
from vivi_emulator.calls import Trace
from vivi_emulator.journal import JournalEntry
from vivi_emulator.journaling import Journaling
from vivi_emulator.settings import Settings
from vivi_emulator.store.keys import KeyRing

PATH = "/channelsApi/demo-channel/stream"
BODY = b'{"message": "hello", "threadId": "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"}'
BASE_HEADERS = (
    (b"host", b"127.0.0.1:8080"),
    (b"user-agent", b"journal-share/1"),
    (b"content-type", b"application/json"),
    (b"accept", b"text/event-stream"),
    (b"vivi-api-key", b"demo-key"),
    (b"content-length", str(len(BODY)).encode()),
)

Headers = list[tuple[bytes, bytes]]


def request_headers(count: int, fixed: bool) -> list[Headers]:
    """Each request's headers: a real client's ``traceparent`` and ``x-request-id``, new on
    every request unless ``fixed`` (made before any timing)."""
    made = []
    for n in range(count):
        n = 0 if fixed else n
        trace = os.urandom(16).hex() if not fixed else "0af7651916cd43dd8448eb211c80319c"
        made.append(
            [
                *BASE_HEADERS,
                (b"traceparent", f"00-{trace}-{n:016x}-01".encode()),
                (b"x-request-id", f"req-{n:08d}-{trace[:12]}".encode()),
            ]
        )
    return made


def _scope(headers: Headers) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "headers": headers,
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 40000),
    }


async def _one(app: ViviApp, headers: Headers, never: asyncio.Future[None]) -> bytes:
    """One request through the app; its response's bytes (status line's code first)."""
    sent = False
    out: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        await never  # the client stays: a hang-up is never reported
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            out.append(str(message["status"]).encode())
        else:
            out.append(message.get("body", b""))

    await app(_scope(headers), receive, send)
    return b"".join(out)


Run = Callable[[list[Headers]], Coroutine[Any, Any, float]]


def _runner(app: ViviApp) -> Run:
    """Answers a list of requests; returns the CPU time they took (the event loop's start and
    end left out). Every response must be the first one's bytes."""
    first: list[bytes] = []

    async def run(all_headers: list[Headers]) -> float:
        never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        started = time.process_time()
        for headers in all_headers:
            response = await _one(app, headers, never)
            if not first:
                if not response.startswith(b"200") or b"data:" not in response:
                    raise SystemExit(f"not a stream: {response[:200]!r}")
                first.append(response)
            elif response != first[0]:
                raise SystemExit("a response differs from the first: not a constant stream")
        return time.process_time() - started

    return run


class _ReadyMade(Journaling):
    """Journaling that hands back one entry made beforehand: the app without its journal's
    making (the CPU figure's reference)."""

    def __init__(self, made: Journaling) -> None:
        super().__init__(made.entry_bytes)
        self.ready: JournalEntry | None = None
        self._made = made

    def entry(self, trace: Trace, ring: KeyRing) -> JournalEntry:
        if self.ready is None:
            self.ready = self._made.entry(trace, ring)
        return self.ready


def _app() -> ViviApp:
    app = create_app(Settings())
    asyncio.run(app.emulator.start())
    return app


def _profile(all_headers: list[Headers], lines: int) -> float:
    app = _app()
    run = _runner(app)
    asyncio.run(run(all_headers[:200]))  # warm: the caches hold the constant script
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(run(all_headers))
    profiler.disable()
    stats = pstats.Stats(profiler)
    table: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    total = _cumulative(table, "asgi.py", "__call__")
    entry = _cumulative(table, "journaling.py", "entry")
    append: float = sum(
        caller_time[3]
        for func, (*_, callers) in table.items()
        if func[2] == "<method 'append' of 'collections.deque' objects>"
        for caller, caller_time in callers.items()
        if caller[0].endswith(os.path.join("store", "memory.py"))
        and caller[2] in ("commit_turn", "record")
    )
    share: float = (entry + append) / total
    print(f"profile ({len(all_headers)} requests):")
    print(f"  app's work (AsgiAdapter.__call__, cumulative) {total:8.3f} s")
    print(f"  Journaling.entry (cumulative)                 {entry:8.3f} s")
    print(f"  memory store's journal append                 {append:8.3f} s")
    print(f"  journaling's share                            {share:8.1%}")
    text = io.StringIO()
    stats.stream = text  # type: ignore[attr-defined]
    stats.sort_stats("cumulative").print_stats(r"journaling|redaction|rendering|memory", lines)
    print("\n".join(line for line in text.getvalue().splitlines() if line.strip()))
    return share


def _cumulative(table: dict[tuple[str, int, str], tuple[Any, ...]], file: str, name: str) -> float:
    found = [
        times[3] for (path, _, func), times in table.items() if path.endswith(file) and func == name
    ]
    if len(found) != 1:
        raise SystemExit(f"expected one {file}:{name} in the profile, found {len(found)}")
    return float(found[0])


def _cpu_share(all_headers: list[Headers], rounds: int) -> float:
    real, ready_made = _app(), _app()
    ready_made.emulator.journaling = _ReadyMade(ready_made.emulator.journaling)
    runs = _runner(real), _runner(ready_made)
    for run in runs:
        asyncio.run(run(all_headers[:200]))
    # The two apps take turns every block of requests (in both orders): the machine is
    # shared, and its load changes faster than a round lasts.
    blocks = [all_headers[at : at + _BLOCK] for at in range(0, len(all_headers), _BLOCK)]
    shares = []
    print(f"CPU per request, {rounds} rounds of {len(all_headers)} (alternating every {_BLOCK}):")
    for number in range(rounds):
        spent = [0.0, 0.0]
        for index, block in enumerate(blocks):
            for which in (0, 1) if index % 2 == 0 else (1, 0):
                spent[which] += asyncio.run(runs[which](block))
        with_journal, without = (cpu / len(all_headers) for cpu in spent)
        shares.append(1 - without / with_journal)
        print(
            f"  round {number + 1}: {with_journal * 1e6:6.1f} us, with a ready-made entry "
            f"{without * 1e6:6.1f} us: journaling {shares[-1]:6.1%}"
        )
    share = statistics.median(shares)
    print(f"  journaling's share (median) {share:6.1%}")
    return share


_BLOCK = 250


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lines", type=int, default=25, help="profile lines shown")
    parser.add_argument("--fixed-headers", action="store_true", help="no per-request headers")
    args = parser.parse_args(argv)
    configure_logging("info")
    devnull = open(os.devnull, "w")  # noqa: SIM115 - the log's stream for the whole run
    for handler in logging.root.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)
    all_headers = request_headers(args.requests, args.fixed_headers)
    print(f"headers: {'fixed' if args.fixed_headers else 'traceparent, x-request-id per request'}")
    _profile(all_headers, args.lines)
    _cpu_share(all_headers, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
