"""RSS per open stream in the streams-2w workload: what the streams added, over the peak open."""

from __future__ import annotations

import math

import pytest
from harness.streams_2w import fd_shortfall, rss_per_stream_kib


def test_rss_per_stream_is_the_growth_over_the_peak_open() -> None:
    r = {"rss_before_mb": 100.0, "rss_peak_mb": 550.0, "peak_open": 10_000}
    assert rss_per_stream_kib(r) == pytest.approx(450 * 1024 / 10_000)


def test_no_stream_open_gives_no_figure() -> None:
    assert math.isnan(
        rss_per_stream_kib({"rss_before_mb": 1.0, "rss_peak_mb": 2.0, "peak_open": 0})
    )


def test_an_open_files_limit_below_a_worker_or_client_share_is_reported() -> None:
    assert fd_shortfall(10_000, 2, 20_000) is None
    assert fd_shortfall(10_000, 2, 5_256) is None  # 5,000 streams each, and 256 to spare
    why = fd_shortfall(10_000, 1, 8_000)  # one client process holds all 10,000
    assert why is not None
    assert "10256" in why
