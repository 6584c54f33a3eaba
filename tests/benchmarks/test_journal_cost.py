"""The journal-share workload reads journal_share.py's two shares from its output."""

from __future__ import annotations

import math

import pytest
from harness.journal_cost import parse

OUTPUT = """headers: traceparent, x-request-id per request
profile (2000 requests):
  app's work (AsgiAdapter.__call__, cumulative)    0.791 s
  journaling's share                               17.8%
CPU per request, 3 rounds of 2000 (alternating):
  round 1:   88.4 us, with a ready-made entry   70.0 us: journaling  20.8%
  journaling's share (median)  9.5%
"""


def test_the_cpu_and_profile_shares_are_read_apart() -> None:
    out = parse(OUTPUT)
    assert out["cpu_share"] == pytest.approx(0.095)
    assert out["profile_share"] == pytest.approx(0.178)


def test_a_missing_line_reads_as_not_measured() -> None:
    out = parse("profile only\n  journaling's share   12.0%\n")
    assert math.isnan(out["cpu_share"])
    assert out["profile_share"] == pytest.approx(0.12)
