"""journal_share.py, the in-process measure of journaling's share of a constant stream: it runs,
drives real clients' headers, and splits journaling from counting (no speed is asserted)."""

from __future__ import annotations

import journal_share
import pytest


def test_real_clients_headers_are_new_on_every_request_unless_fixed() -> None:
    varying = journal_share.request_headers(3, fixed=False)
    fixed = journal_share.request_headers(3, fixed=True)
    assert len({tuple(h) for h in varying}) == 3
    assert len({tuple(h) for h in fixed}) == 1
    names = [name for name, _ in varying[0]]
    assert {b"traceparent", b"x-request-id", b"vivi-api-key"} <= set(names)


def test_the_shares_are_journalings_and_countings_of_the_whole() -> None:
    journaling, counting = journal_share._shares(
        {"journaled": 100.0, "ready-made": 92.0, "uncounted": 89.0}
    )
    assert journaling == pytest.approx(0.08)
    assert counting == pytest.approx(0.03)


def test_the_profile_finds_the_entry_and_the_append_in_a_constant_stream(
    capsys: pytest.CaptureFixture[str],
) -> None:
    share = journal_share._profile(journal_share.request_headers(300, fixed=False), lines=5)
    assert 0 < share < 1
    shown = capsys.readouterr().out
    assert "journaling.py" in shown
    assert "counting's share" in shown


def test_the_cpu_measure_runs_every_variant(capsys: pytest.CaptureFixture[str]) -> None:
    journal_share._cpu_share(journal_share.request_headers(500, fixed=False), rounds=1)
    shown = capsys.readouterr().out
    assert "with a ready-made entry" in shown
    assert "not counted" in shown
