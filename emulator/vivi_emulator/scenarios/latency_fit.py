"""A latency profile fitted to recorded streams, so the emulator is as slow as the real agent.

``vivi-emulator record`` writes each stream it sees as fixture frames, each with its time after
the previous one (``after_ms``; the first: after the request). From the streams that the agent
answered (``POST .../stream``, status 200) this measures, per stream, the time to the first
event and to the first text chunk (time to first token), and the gap before every later text
chunk, divided by the tokens the chunk carries (the emulator streams one token per chunk, so
the text flows as fast as the recorded one). Each becomes a log-normal distribution with the
measured median and 99th percentile (fixed when they are equal), as ``LatencyProfile`` takes it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from vivi_emulator.scenarios.latency import Delay, LatencyProfile, fixed
from vivi_emulator.scenarios.model import Scenario
from vivi_emulator.scenarios.tokens import count_tokens
from vivi_emulator.script import CHUNK
from vivi_emulator.sse import frame_data, parse_event


class NothingToFit(ValueError):
    """No recorded stream carries a text chunk."""


@dataclass
class Measured:
    """What the recorded streams took, in milliseconds."""

    streams: int = 0
    first_event: list[float] = field(default_factory=list)
    first_token: list[float] = field(default_factory=list)
    token_gap: list[float] = field(default_factory=list)


def _is_stream(scenario: Scenario) -> bool:
    recorded = scenario.recorded
    return (
        scenario.frames is not None
        and recorded is not None
        and recorded.operation.endswith("/stream")
        and recorded.status == 200
    )


def measure(scenarios: Iterable[Scenario]) -> Measured:
    """The times of every recorded stream that carries a text chunk."""
    measured = Measured()
    for scenario in scenarios:
        if not _is_stream(scenario):
            continue
        assert scenario.frames is not None
        elapsed, first_chunk = 0.0, None
        gaps: list[float] = []
        for index, frame in enumerate(scenario.frames):
            elapsed += frame.after_ms
            data = frame.data if frame.data is not None else frame_data(frame.raw or "")
            parsed = parse_event(data) if data is not None else None
            if parsed is None or parsed[0] != CHUNK:
                continue
            if first_chunk is None:
                first_chunk = elapsed
                if index > 0:
                    measured.first_event.append(scenario.frames[0].after_ms)
            else:
                gaps.append(frame.after_ms / count_tokens(parsed[1]))
        if first_chunk is None:
            continue
        measured.streams += 1
        measured.first_token.append(first_chunk)
        measured.token_gap += gaps
    return measured


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.5: the median) of non-empty ``values``."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def fit_delay(values: Sequence[float]) -> Delay:
    """A log-normal delay with the values' median and 99th percentile (fixed if they agree)."""
    if not values:
        return fixed(0)
    p50, p99 = round(percentile(values, 0.5), 1), round(percentile(values, 0.99), 1)
    if p50 <= 0 or p99 <= p50:
        return fixed(p50)
    return Delay(distribution="lognormal", p50_ms=p50, p99_ms=p99)


def fit(scenarios: Iterable[Scenario]) -> tuple[LatencyProfile, Measured]:
    """The profile of the recorded streams among ``scenarios``, and what was measured."""
    measured = measure(scenarios)
    if not measured.streams:
        raise NothingToFit(
            "no recorded stream with a text chunk (POST .../stream answered 200) to fit"
        )
    profile = LatencyProfile(
        name=f"fitted to {measured.streams} recorded streams",
        first_event=fit_delay(measured.first_event),
        first_token=fit_delay(measured.first_token),
        token_gap=fit_delay(measured.token_gap),
    )
    return profile, measured
