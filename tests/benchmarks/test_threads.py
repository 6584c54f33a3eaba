"""The judgement of the threads workload: does RSS stop growing once max_threads are held?"""

from __future__ import annotations

import pytest
from harness.threads import verdict

MAX = 10_000


def batches(rss: list[float], held: int = MAX) -> list[list[float]]:
    """[threads sent, RSS MiB, threads held] after each batch of MAX threads."""
    return [[MAX * (i + 1), mb, min(held, MAX * (i + 1))] for i, mb in enumerate(rss)]


def test_a_plateau_after_the_bound_is_within_it() -> None:
    out = verdict(100.0, batches([106.0, 107.0, 107.5, 108.0, 108.0]), MAX)
    assert out["within"]
    assert out["bytes_per_thread"] == pytest.approx(6 * 1024 * 1024 / MAX)


def test_a_store_that_keeps_growing_is_not_within_the_bound() -> None:
    out = verdict(100.0, batches([106.0 + 6 * i for i in range(10)]), MAX)
    assert not out["within"]


def test_more_threads_held_than_the_bound_is_not_within_it() -> None:
    out = verdict(100.0, batches([106.0, 106.0], held=2 * MAX), MAX)
    assert not out["within"]
    assert out["held_max"] == 2 * MAX
