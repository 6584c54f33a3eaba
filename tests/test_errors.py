"""Errors as responses, and what an error may repeat of a client's input (errors.py)."""

from __future__ import annotations

from vivi_emulator.errors import MAX_ECHO_CHARS, echoed


def test_short_input_is_echoed_as_it_is() -> None:
    assert echoed("demo-channel") == "demo-channel"
    assert echoed("x" * MAX_ECHO_CHARS) == "x" * MAX_ECHO_CHARS


def test_long_input_is_cut_saying_how_long_it_was() -> None:
    shown = echoed("x" * 60_000)
    assert shown == "x" * MAX_ECHO_CHARS + "... (60000 characters)"
    assert echoed("abcdef", limit=3) == "abc... (6 characters)"
