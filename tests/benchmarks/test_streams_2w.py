"""RSS per open stream in the streams-2w workload: what the streams added, over the peak open."""

from __future__ import annotations

import math

import pytest
from harness.streams_2w import rss_per_stream_kib


def test_rss_per_stream_is_the_growth_over_the_peak_open() -> None:
    r = {"rss_before_mb": 100.0, "rss_peak_mb": 550.0, "peak_open": 10_000}
    assert rss_per_stream_kib(r) == pytest.approx(450 * 1024 / 10_000)


def test_no_stream_open_gives_no_figure() -> None:
    assert math.isnan(
        rss_per_stream_kib({"rss_before_mb": 1.0, "rss_peak_mb": 2.0, "peak_open": 0})
    )
