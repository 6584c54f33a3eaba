"""How the harness judges a run of delayed streams: completion, lateness, streams open at once."""

from __future__ import annotations

import pytest
from harness.common import DELAYED
from harness.streams import analyse

STEP = DELAYED.interval


def stream(t0: float, n: int = 3, late: float = 0.0, ok: bool = True) -> list[object]:
    """[ok, status, open_t, close_t, event times]: n events on schedule from t0, the last late."""
    events = [t0 + k * STEP for k in range(n)]
    events[-1] += late
    return [ok, 200, t0 - 0.01, events[-1] + 0.001, events]


def test_streams_on_schedule_are_complete_and_not_late() -> None:
    out = analyse([stream(0.0), stream(0.01)], DELAYED, 3)
    assert out["complete"] == 2
    assert out["p50_ms"] == pytest.approx(0.0, abs=1e-6)
    assert out["max_ms"] == pytest.approx(0.0, abs=1e-6)


def test_a_late_event_shows_in_the_lateness_and_at_the_last_event() -> None:
    out = analyse([stream(0.0, late=0.2)], DELAYED, 3)
    assert out["max_ms"] == pytest.approx(200.0)
    assert out["p50_last_ms"] == pytest.approx(200.0)
    assert out["p50_first_ms"] == pytest.approx(0.0, abs=1e-6)


def test_a_stream_with_too_few_events_or_not_ok_is_not_complete() -> None:
    out = analyse([stream(0.0, n=2), stream(0.0, ok=False), stream(0.0)], DELAYED, 3)
    assert out["complete"] == 1
    assert out["event_counts"] == [2, 3]


def test_peak_open_counts_streams_served_at_the_same_time() -> None:
    # Two overlapping streams, then a third after both ended.
    out = analyse([stream(0.0), stream(0.05), stream(1.0)], DELAYED, 3)
    assert out["peak_open"] == 2
