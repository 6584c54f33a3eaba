"""The in-memory store's own promise (``MemoryStore.waits``): none of its steps waits, so no
cancellation can strike inside one, and settling a request on it needs no shield
(``exchange.Exchange``)."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

from vivi_emulator.store.memory import MemoryStore
from vivi_emulator.store.values import TurnEnd

from tests.store.test_behaviour import CHANNELS, T1, entry

T = TypeVar("T")


def at_once(step: Coroutine[Any, Any, T]) -> T:
    """Run ``step`` once: it must finish there (a step that waited would yield first)."""
    try:
        step.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    step.close()
    raise AssertionError("the step waited")


def test_no_step_of_settling_a_request_waits() -> None:
    store = MemoryStore(CHANNELS)
    assert not store.waits
    kept = at_once(store.begin_turn("a", T1))
    at_once(store.commit_turn(TurnEnd("a", T1, kept.turn, "hi", "hello", None), entry()))
    given_back = at_once(store.begin_turn("a", T1))
    at_once(store.cancel_turn("a", T1, given_back.turn))
    at_once(store.record(entry()))
    at_once(store.buckets().release("a", "slot"))
    assert len(at_once(store.journal())) == 2
    assert at_once(store.begin_turn("a", T1)).turn == 2  # turn 2 was given back
