"""Errors as responses, and what an error may repeat of a client's input (errors.py)."""

from __future__ import annotations

from vivi_emulator.errors import MAX_ECHO_CHARS, echoed
from vivi_emulator.settings import Settings

from tests.support import AUTH, serving, url


def test_short_input_is_echoed_as_it_is() -> None:
    assert echoed("demo-channel") == "demo-channel"
    assert echoed("x" * MAX_ECHO_CHARS) == "x" * MAX_ECHO_CHARS


def test_long_input_is_cut_saying_how_long_it_was() -> None:
    shown = echoed("x" * 60_000)
    assert shown == "x" * MAX_ECHO_CHARS + "... (60000 characters)"
    assert echoed("abcdef", limit=3) == "abc... (6 characters)"


async def test_a_long_unknown_channel_is_echoed_cut_on_both_stores(state: str) -> None:
    """Issue 21, item 9: a 60,000-character channel id came back whole in the 404 body; the
    control API's rotation and removal echo it too."""
    long_id = "c" * 60_000
    settings = Settings(access_log=False, reload_fixtures=False, state=state)
    async with serving(settings) as client:
        answers = [
            await client.post(url("invoke", long_id), headers=AUTH, json={}),
            await client.post(f"/_emulator/channels/{long_id}/rotate", json={}),
            await client.delete(f"/_emulator/channels/{long_id}"),
        ]
    for answer in answers:
        assert answer.status_code == 404, answer.text[:200]
        assert answer.json()["detail"] == f"unknown channel '{echoed(long_id)}'"
