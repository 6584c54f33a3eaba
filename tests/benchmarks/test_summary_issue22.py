"""Issue 22's table: every target has its row, measured or not, and a missed one points to its
"What stands in the way" section."""

from __future__ import annotations

from typing import Any

from harness.cli import parse_args
from harness.results import Results
from harness.summary_issue22 import RATIO_TARGETS, SCALING, WAY, issue22_rows, missed

ROWS = len(RATIO_TARGETS) + 6  # journaling, Redis 1w, scaling, 10,000 streams, RSS, start-up


def results(**rps: list[float]) -> Results:
    res = Results(parse_args(["--issue22"]), {}, [])
    for name, series in rps.items():
        for i, x in enumerate(series):
            res.add("invoke", name.replace("_", "-"), {"rps": x, "round": i + 1})
    return res


def test_every_target_has_a_row_when_nothing_was_measured() -> None:
    rows = issue22_rows(results())
    assert len(rows) == ROWS
    assert all(r[3] == "n/a" for r in rows)
    assert missed(rows) == []


def test_the_scaling_row_compares_the_two_ratios_per_round() -> None:
    # The emulator gains 1.5x from its second worker, the floor 2x: 0.75 of the floor's gain.
    res = results(
        emulator_redis_2w=[150.0, 300.0],
        emulator_redis_1w=[100.0, 200.0],
        bare_granian_2w=[200.0, 400.0],
        bare_granian=[100.0, 200.0],
    )
    row = next(r for r in issue22_rows(res) if r[0] == SCALING)
    assert row[1].startswith("0.75 ")
    assert row[3] == f"NOT MET: see “{WAY}: {SCALING}”"
    assert missed(issue22_rows(res)) == [SCALING]


def streams(complete: int, p99: float) -> dict[str, Any]:
    return {
        "streams": 10_000,
        "complete": complete,
        "p99_ms": p99,
        "peak_open": complete,
        "client_cpu": 0.5,
        "first_event_p99_ms": 50.0,
        "client_procs": 2,
        "rss_per_stream_kib": 40.0,
        "round": 1,
    }


def test_the_streams_target_needs_all_served_and_a_p99_no_worse_than_the_floor() -> None:
    for emu, bare, verdict in (
        (streams(10_000, 90.0), streams(10_000, 100.0), "met"),
        (streams(9_999, 90.0), streams(10_000, 100.0), "NOT MET"),
        (streams(10_000, 110.0), streams(10_000, 100.0), "NOT MET"),
    ):
        res = results()
        res.add("streams-2w", "emulator-redis-2w", emu)
        res.add("streams-2w", "bare-granian-2w", bare)
        row = next(r for r in issue22_rows(res) if r[0].startswith("10,000 timed streams across"))
        assert row[3].startswith(verdict)
