"""Single HTTP requests: start-up polls, and the checks a target passes before it is measured."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from typing import Any

from .common import BODY, INVOKE_PATH, KEY, STREAM_PATH, Scenario
from .processes import Proc
from .targets import Target


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes
    seconds: float


def post(
    port: int,
    path: str,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        t0 = time.monotonic()
        hdrs = {"Content-Type": "application/json", "vivi-api-key": KEY, "Connection": "close"}
        hdrs.update(headers or {})
        conn.request("POST", path, body=BODY.encode(), headers=hdrs)
        resp = conn.getresponse()
        body = resp.read()
        return Reply(resp.status, resp.getheader("content-type") or "", body, time.monotonic() - t0)
    finally:
        conn.close()


def get_json(port: int, path: str, timeout: float = 5.0) -> Any:
    """GET path and decode its JSON (the control API: /_emulator/...); None if it fails."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        return json.loads(body) if resp.status == 200 else None
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        conn.close()


def wait_ready(proc: Proc, port: int, timeout: float, poll: float = 0.005) -> float | None:
    """Seconds from now until the first 2xx to an invoke POST; None if none within timeout."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if not proc.alive():
            return None
        try:
            if 200 <= post(port, INVOKE_PATH, timeout=2.0).status < 300:
                return time.monotonic() - t0
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(poll)
    return None


def data_lines(body: bytes) -> int:
    return sum(1 for line in body.split(b"\n") if line.startswith(b"data:"))


def functional_check(t: Target, port: int) -> list[str]:
    """Problems with the target's answers; each target must answer like the emulator."""
    problems = []
    try:
        r = post(port, INVOKE_PATH)
        if r.status != 200 or b'"message"' not in r.body:
            problems.append(f"invoke: status {r.status}, body {r.body[:120]!r}")
        s = post(port, STREAM_PATH, {"Accept": "text/event-stream"})
        if s.status != 200 or data_lines(s.body) < 3:
            problems.append(f"stream: status {s.status}, body {s.body[:120]!r}")
        t.note = (t.note + "; " if t.note else "") + (
            f"invoke {len(r.body)} B; stream {data_lines(s.body)} events, {len(s.body)} B"
        )
        bad = post(port, INVOKE_PATH, {"vivi-api-key": "wrong-key"})
        if bad.status == 200 and t.kind == "emulator":
            problems.append("invoke with a wrong key answered 200")
    except (OSError, http.client.HTTPException) as exc:
        problems.append(f"no answer: {exc}")
    return problems


def scenario_probe(port: int, scenario: Scenario) -> tuple[str | None, int]:
    """(None, events per stream) if the target plays the scenario on its schedule; else (why, 0).

    The emulator adds its start and end frames to the scenario's events: a stream has what the
    probe counted, at least the scenario's events.
    """
    try:
        headers = {"Accept": "text/event-stream", **scenario.headers}
        r = post(port, STREAM_PATH, headers, timeout=15 + scenario.events * scenario.interval)
    except (OSError, http.client.HTTPException) as exc:
        return f"no answer: {exc}", 0
    n = data_lines(r.body)
    if r.status != 200 or n < scenario.events:
        return f"{scenario.name}: status {r.status}, {n} events (expected {scenario.events})", 0
    if r.seconds < (scenario.events - 1) * scenario.interval * 0.8:
        return (
            f"the scenario's delays were not played ({n} events in {r.seconds * 1000:.0f} ms;"
            f" is the scenario {scenario.name!r} loaded?)"
        ), 0
    return None, n
