"""Many delayed streams at once: run sse_load.py against an instance and read what it recorded.

Each stream plays 20 events 50 ms apart; lateness is how late event k arrives against t0 + k x 50
ms, t0 being the arrival of that stream's first event (benchmarks/README.md, "delayed").
"""

# ruff: noqa: S603  (fixed argv built by the harness, no shell)

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import BENCH, BODY, KEY, STREAM_PATH, WORK, Scenario, percentile
from .instances import Instance

STREAM_TIMEOUT = 30.0  # per stream, in the client
Clients = list[tuple["subprocess.Popen[bytes]", Path]]


@dataclass(frozen=True)
class StreamLoad:
    scenario: Scenario
    streams: int  # opened in all
    ramp: float  # seconds over which they are opened
    client_procs: int = 1  # processes of the client, sharing the streams


def _launch(inst: Instance, load: StreamLoad) -> tuple[Clients, float]:
    """Start the client processes, each with its share; (processes and outputs, start time)."""
    procs, streams = max(1, min(load.client_procs, load.streams)), load.streams
    start_at = time.monotonic() + 0.6  # let every client process start before the first open
    headers = [f"vivi-api-key: {KEY}", "Accept: text/event-stream"]
    headers += [f"{k}: {v}" for k, v in load.scenario.headers.items()]
    clients: Clients = []
    WORK.mkdir(parents=True, exist_ok=True)
    for i in range(procs):
        share = streams // procs + (1 if i < streams % procs else 0)
        out = Path(tempfile.mkstemp(prefix="sse-", suffix=".json", dir=WORK)[1])
        cmd = [sys.executable, str(BENCH / "sse_load.py"), "--port", str(inst.port)]
        cmd += ["--path", STREAM_PATH, "--streams", str(share), "--body", BODY]
        cmd += ["--ramp", str(load.ramp), "--timeout", str(STREAM_TIMEOUT)]
        cmd += ["--start-at", str(start_at), "--out", str(out)]
        for h in headers:
            cmd += ["--header", h]
        clients.append((subprocess.Popen(cmd, stdin=subprocess.DEVNULL), out))
    return clients, start_at


def _watch(inst: Instance, clients: Clients, start_at: float, length: float) -> dict[str, float]:
    """Sample the server's RSS every 50 ms until the clients are done; its peak RSS and CPU."""
    rss_peak, cpu0 = 0.0, inst.proc.cpu_s()
    deadline = start_at + length + STREAM_TIMEOUT + 15
    while any(c.poll() is None for c, _ in clients) and time.monotonic() < deadline:
        if time.monotonic() >= start_at:
            rss_peak = max(rss_peak, inst.proc.rss_mb())
        time.sleep(0.05)
    for c, _ in clients:
        if c.poll() is None:
            c.kill()
        c.wait(timeout=10)
    wall = max(time.monotonic() - start_at, 1e-9)
    return {"rss_peak_mb": rss_peak, "server_cpu": (inst.proc.cpu_s() - cpu0) / wall}


def _collect(outs: list[Path]) -> dict[str, Any]:
    """The client processes' outputs, merged."""
    merged: dict[str, Any] = {"streams": [], "lag": 0.0, "connect_errors": 0, "wall": 0.0}
    for out in outs:
        try:
            data = json.loads(out.read_text())
        except (OSError, ValueError):
            data = {"streams": [], "loop_lag_p99": math.nan, "connect_errors": 0, "wall": 0}
        finally:
            out.unlink(missing_ok=True)
        merged["streams"] += data["streams"]
        merged["lag"] = max(merged["lag"], data["loop_lag_p99"])
        merged["connect_errors"] += data["connect_errors"]
        merged["wall"] = max(merged["wall"], data["wall"])
    return merged


def _peak_open(spans: list[tuple[float, float]]) -> int:
    """The most streams being served at one time (first event to close)."""
    steps = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    peak = level = 0
    for _, step in steps:
        level += step
        peak = max(peak, level)
    return peak


def analyse(streams: list[list[Any]], scenario: Scenario, events_each: int) -> dict[str, Any]:
    """Completion, lateness (overall, at event 1, at the last event), peak open, first waits."""
    lateness: list[float] = []
    by_k: dict[int, list[float]] = {}  # lateness per event index: drift shows as growth with k
    complete, counts = 0, set()
    spans: list[tuple[float, float]] = []
    first_waits: list[float] = []  # connect to first event: how long the server took to start it
    for ok, _status, open_t, close_t, events in streams:
        counts.add(len(events))
        complete += bool(ok and len(events) == events_each)
        if not events:
            continue
        t0 = events[0]
        first_waits.append(t0 - open_t)
        for k, ts in enumerate(events[1:], start=1):
            late = (ts - t0) - k * scenario.interval
            lateness.append(late)
            by_k.setdefault(k, []).append(late)
        spans.append((t0, close_t or events[-1]))
    return {
        "complete": complete,
        "event_counts": sorted(counts),
        "p50_ms": percentile(lateness, 0.5) * 1000,
        "p99_ms": percentile(lateness, 0.99) * 1000,
        "max_ms": max(lateness) * 1000 if lateness else math.nan,
        "min_ms": min(lateness) * 1000 if lateness else math.nan,
        "p50_first_ms": percentile(by_k.get(1, []), 0.5) * 1000,
        "p50_last_ms": percentile(by_k.get(max(by_k, default=1), []), 0.5) * 1000,
        "peak_open": _peak_open(spans),
        "first_event_p99_ms": percentile(first_waits, 0.99) * 1000,
    }


def run_streams(inst: Instance, load: StreamLoad) -> dict[str, Any]:
    """Open the load's streams against the instance; completion, lateness, server and client."""
    rss_before = inst.proc.rss_mb()  # idle, the probe done: what the open streams add is above
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    clients, start_at = _launch(inst, load)
    server = _watch(
        inst, clients, start_at, load.ramp + load.scenario.events * load.scenario.interval
    )
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu_s = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    got = _collect([out for _, out in clients])
    return {
        "streams": load.streams,
        **analyse(got["streams"], load.scenario, inst.events),
        "connect_errors": got["connect_errors"],
        **server,
        "rss_before_mb": rss_before,
        "client_procs": len(clients),
        "client_cpu": client_cpu_s / max(got["wall"], 1e-9),
        "client_lag_p99_ms": got["lag"] * 1000,
    }
