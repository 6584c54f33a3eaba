"""The share of a constant stream's CPU that journaling costs, measured in process (issue 22).

    python benchmarks/journal_share.py [--requests N] [--rounds R] [--fixed-headers]
                                       [--instructions N]

The emulator's app (default settings and fixtures, state in memory, the access log on and
written, as ``serve`` writes it, to a null stream) answers the benchmarks' stream request
(``wrk/stream.lua``: "hello", one thread) through its ASGI adapter, driven by a bare ASGI
``receive``/``send`` in this process: no socket, no server, no client, so every figure is the
app's own work, and journaling's share of it is an upper bound of its share under a server.
Each request carries a ``traceparent`` and an ``x-request-id`` of its own, as real clients send
them (``--fixed-headers``: the same headers on every request).

Journaling is making the request's entry (its headers, body and events, redacted and bounded)
and keeping it; counting it (the metrics and the span the entry feeds) is shown apart. Three
figures, because a profiler inflates function calls and a shared machine's load moves CPU time:

- **profile**: cProfile over one run; the cumulative time of ``Journaling.entry`` less its
  counting, plus the memory store's journal append, over the cumulative time of the adapter's
  ``__call__`` (one request's whole work).
- **CPU**: process CPU time per request of the app as it is, against the same app whose
  journaling hands back one ready-made entry (still counted; and, for counting's share, not
  counted), the apps taking turns every 250 requests; the median of the rounds.
- **instructions** (``--instructions N``, valgrind): the same comparison in instructions per
  request, counted by callgrind, which the machine's load does not move.

Every response's bytes are checked to be the first one's: the measure never drifts into
answering something else.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import logging
import operator
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from typing import Any

from starlette.types import Message

from vivi_emulator import metrics, tracing
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
    making (the reference). ``counted``: the entry is still counted (metrics, traces), as a
    real one is, so that the difference is the journal's alone."""

    def __init__(self, made: Journaling, counted: bool) -> None:
        super().__init__(made.entry_bytes)
        self.ready: JournalEntry | None = None
        self._source = made
        self._counted = counted

    def entry(self, trace: Trace, ring: KeyRing) -> JournalEntry:
        if self.ready is None:
            self.ready = self._source.entry(trace, ring)
        elif self._counted:
            metrics.finished(self.ready)
            tracing.finished(self.ready)
        return self.ready


# What is measured: the app as it is; with a ready-made entry, counted; and not counted.
VARIANTS = ("journaled", "ready-made", "uncounted")


def _app(variant: str = "journaled") -> ViviApp:
    app = create_app(Settings())
    asyncio.run(app.emulator.start())
    if variant != "journaled":
        made = app.emulator.journaling
        app.emulator.journaling = _ReadyMade(made, counted=variant == "ready-made")
    return app


def _shares(cost: dict[str, float]) -> tuple[float, float]:
    """Journaling's share (making and keeping the entry), and counting's (metrics, traces)."""
    whole = cost["journaled"]
    return (whole - cost["ready-made"]) / whole, (cost["ready-made"] - cost["uncounted"]) / whole


def _profile(all_headers: list[Headers], lines: int) -> float:
    app = _app()
    run = _runner(app)
    asyncio.run(run(all_headers[:_WARM]))  # warm: the caches hold the constant script
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(run(all_headers))
    profiler.disable()
    stats = pstats.Stats(profiler)
    table: _Table = stats.stats  # type: ignore[attr-defined]
    total = _cumulative(table, "asgi.py", "__call__")
    entry = _cumulative(table, "journaling.py", "entry")
    counting = sum(
        _called_from(table, (file, "finished"), ("journaling.py", "entry"))
        for file in ("metrics.py", "tracing.py")
    )
    append = _called_from(
        table,
        ("", "<method 'append' of 'collections.deque' objects>"),
        (os.path.join("store", "memory.py"), "commit_turn"),
    )
    share = (entry - counting + append) / total
    print(f"profile ({len(all_headers)} requests):")
    print(f"  app's work (AsgiAdapter.__call__, cumulative)    {total:8.3f} s")
    print(f"  Journaling.entry (cumulative)                    {entry:8.3f} s")
    print(f"    of which counting it (metrics, traces)         {counting:8.3f} s")
    print(f"  memory store's journal append                    {append:8.3f} s")
    # The harness reads this line as it is (harness/journal_cost.py): entry - counting + append.
    print(f"  journaling's share                               {share:8.1%}")
    print(f"  counting's share                                 {counting / total:8.1%}")
    text = io.StringIO()
    stats.stream = text  # type: ignore[attr-defined]
    stats.sort_stats("cumulative").print_stats(_SHOWN, lines)
    print("\n".join(line for line in text.getvalue().splitlines() if line.strip()))
    return share


_SHOWN = r"journaling|journal\.py|redaction|rendering|memory\.py|metrics|tracing"
_Table = dict[tuple[str, int, str], tuple[Any, ...]]


def _cumulative(table: _Table, file: str, name: str) -> float:
    found = [
        times[3] for (path, _, func), times in table.items() if path.endswith(file) and func == name
    ]
    if len(found) != 1:
        raise SystemExit(f"expected one {file}:{name} in the profile, found {len(found)}")
    return float(found[0])


def _called_from(table: _Table, callee: tuple[str, str], caller: tuple[str, str]) -> float:
    """The cumulative time of ``callee`` (file, name) when ``caller`` called it."""
    return float(
        sum(
            times[3]
            for (path, _, func), (*_, callers) in table.items()
            if path.endswith(callee[0]) and func == callee[1]
            for (by_path, _, by_func), times in callers.items()
            if by_path.endswith(caller[0]) and by_func == caller[1]
        )
    )


def _cpu_share(all_headers: list[Headers], rounds: int) -> float:
    runs = {variant: _runner(_app(variant)) for variant in VARIANTS}
    for run in runs.values():
        asyncio.run(run(all_headers[:_WARM]))
    # The apps take turns every block of requests (in both orders): the machine is shared,
    # and its load changes faster than a round lasts.
    blocks = [all_headers[at : at + _BLOCK] for at in range(0, len(all_headers), _BLOCK)]
    shares = []
    print(f"CPU per request, {rounds} rounds of {len(all_headers)} (alternating every {_BLOCK}):")
    for number in range(rounds):
        spent = dict.fromkeys(VARIANTS, 0.0)
        for index, block in enumerate(blocks):
            for variant in VARIANTS if index % 2 == 0 else VARIANTS[::-1]:
                spent[variant] += asyncio.run(runs[variant](block))
        cost = {variant: cpu / len(all_headers) * 1e6 for variant, cpu in spent.items()}
        journaling, counting = _shares(cost)
        shares.append(journaling)
        print(
            f"  round {number + 1}: {cost['journaled']:6.1f} us; with a ready-made entry "
            f"{cost['ready-made']:6.1f} us, not counted {cost['uncounted']:6.1f} us: "
            f"journaling {journaling:6.1%}, counting {counting:6.1%}"
        )
    share = statistics.median(shares)
    print(f"  journaling's share (median) {share:6.1%}")
    return share


_BLOCK = 250
_WARM = 200  # requests before measuring: the caches hold the constant script


def _instructions(requests: int) -> float:
    """Journaling's share in instructions (valgrind's callgrind: the same figure however
    loaded the machine is), each variant in a process of its own, counted only while its
    requests run (inside ``operator.call``, which nothing else here calls)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--instructions needs valgrind (Debian: apt-get install valgrind)")
    cost = {}
    with tempfile.TemporaryDirectory() as folder:
        for variant in VARIANTS:
            done = subprocess.run(  # noqa: S603 - fixed arguments, this very script
                [
                    valgrind,
                    "--tool=callgrind",
                    "--collect-atstart=no",
                    "--toggle-collect=_operator_call*",
                    f"--callgrind-out-file={folder}/{variant}.out",
                    sys.executable,
                    __file__,
                    "--measure",
                    variant,
                    "--requests",
                    str(requests),
                ],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "PYTHONHASHSEED": "0"},
            )
            collected = re.search(r"Collected : (\d+)", done.stderr)
            if collected is None:
                raise SystemExit(f"callgrind said no count: {done.stderr[-500:]}")
            cost[variant] = int(collected.group(1)) / requests
    journaling, counting = _shares(cost)
    print(f"instructions per request ({requests} requests, callgrind):")
    print(
        f"  {cost['journaled']:,.0f}; with a ready-made entry {cost['ready-made']:,.0f}, "
        f"not counted {cost['uncounted']:,.0f}: journaling {journaling:.1%}, "
        f"counting {counting:.1%}"
    )
    return journaling


def _measure(variant: str, all_headers: list[Headers]) -> None:
    """One variant's requests, inside ``operator.call`` (what ``_instructions`` counts)."""
    run = _runner(_app(variant))
    asyncio.run(run(all_headers[:_WARM]))
    operator.call(lambda: asyncio.run(run(all_headers[_WARM:])))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lines", type=int, default=25, help="profile lines shown")
    parser.add_argument("--fixed-headers", action="store_true", help="no per-request headers")
    parser.add_argument(
        "--instructions",
        type=int,
        default=0,
        metavar="N",
        help="also count instructions over N requests per variant (valgrind; minutes)",
    )
    parser.add_argument("--measure", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # As ``vivi-emulator`` does before it serves (launch.py): the imports' objects frozen, so
    # that no collection walks them; what the requests make is collected as under a server.
    gc.freeze()
    configure_logging("info")
    devnull = open(os.devnull, "w")  # noqa: SIM115 - the log's stream for the whole run
    for handler in logging.root.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)
    if args.measure:
        _measure(args.measure, request_headers(_WARM + args.requests, args.fixed_headers))
        return 0
    all_headers = request_headers(args.requests, args.fixed_headers)
    print(f"headers: {'fixed' if args.fixed_headers else 'traceparent, x-request-id per request'}")
    _profile(all_headers, args.lines)
    _cpu_share(all_headers, args.rounds)
    if args.instructions:
        _instructions(args.instructions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
