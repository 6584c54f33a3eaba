"""What every part of the harness shares: where things are, the request every target answers."""

from __future__ import annotations

import math
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
REPO = BENCH.parent
WORK = BENCH / ".work"
LOGS = WORK / "logs"
PEERS = BENCH / ".peers" / "node_modules"
BIN = Path(sys.executable).parent  # the project's venv: the harness runs on its python
CONTRACT = REPO / "openapi" / "vivi-channels-api.yaml"
SCENARIO_DIR = BENCH / "fixtures"  # the emulator's scripted scenarios (see README)

CHANNEL, KEY = "demo-channel", "demo-key"
INVOKE_PATH = f"/channelsApi/{CHANNEL}/invoke"
STREAM_PATH = f"/channelsApi/{CHANNEL}/stream"
BODY = '{"message": "hello", "threadId": "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"}'


@dataclass(frozen=True)
class Scenario:
    """A scripted stream both the emulator (fixtures/NAME.yaml) and bare_app.py play."""

    name: str
    events: int
    interval: float  # seconds between two events

    @property
    def headers(self) -> dict[str, str]:
        return {"x-vivi-scenario": self.name}


DELAYED = Scenario("bench-delayed", 20, 0.05)  # the delayed workload: ~20 events/s per stream
# The many-streams workload: streams that last 5 s, so that all of them are open together.
LONG = Scenario("bench-long", 20, 0.25)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def median(xs: list[float]) -> float:
    xs = [x for x in xs if not math.isnan(x)]
    return statistics.median(xs) if xs else math.nan


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks; NaN for no values."""
    if not values:
        return math.nan
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def fmt(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:,.{digits}f}"
