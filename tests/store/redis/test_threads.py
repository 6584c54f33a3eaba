"""The Redis step that settles a turn and records its journal entry is all or nothing: a fault
injected at that step, on a real redis-server, leaves both halves absent, never one of them.

Redis does not undo a script's writes when the script fails halfway; these faults fail the
journal's half (``lua/settle.lua``): a value the emulator did not write at the journal's key
(refused before any write), and a journal stream at its last possible ID (its ``XADD`` fails
after the entry's number was drawn: the number is put back).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis

from vivi_emulator.store.base import StoreUnavailable
from vivi_emulator.store.redis.store import RedisStore
from vivi_emulator.store.values import Turn, TurnEnd

from tests.store.test_behaviour import CHANNELS, T1, entry

JOURNAL, SEQ = "vivi:j", "vivi:j:seq"
THREAD = f"vivi:t:a\0{T1}"
LAST_ID = "18446744073709551615-18446744073709551615"


@pytest.fixture
async def admin(redis_url: str) -> AsyncIterator[Any]:
    client = redis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    made = RedisStore(redis_url, CHANNELS)
    await made.start()
    yield made
    await made.close()


async def _foreign_value(admin: Any) -> None:
    await admin.set(JOURNAL, "not a stream")


async def _exhausted_stream(admin: Any) -> None:
    await admin.xadd(JOURNAL, {"e": "x"}, id=LAST_ID)


FAULTS = {
    "foreign value at the journal": _foreign_value,
    "journal at its last ID": _exhausted_stream,
}


@pytest.mark.parametrize("kept", [True, False], ids=["kept", "given back"])
@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_settle_that_fails_on_its_journal_entry_leaves_the_turn_unsettled(
    store: RedisStore, admin: Any, fault: str, kept: bool
) -> None:
    await store.record(entry())  # the journal's counter has a value to keep
    await admin.delete(JOURNAL)
    await FAULTS[fault](admin)
    before = (await admin.get(SEQ), await admin.type(JOURNAL), await admin.hgetall(THREAD))
    assert (await store.begin_turn("a", T1)).turn == 1
    opened = await admin.hgetall(THREAD)

    end = TurnEnd("a", T1, 1, "hello", "hi!", None, kept=kept)
    with pytest.raises(StoreUnavailable):
        await store.commit_turn(end, entry())

    # Neither half: the thread as the turn left it open, the journal and its counter as before.
    assert await admin.hgetall(THREAD) == opened
    assert (await admin.get(SEQ), await admin.type(JOURNAL)) == before[:2]
    if fault == "journal at its last ID":
        assert await admin.xlen(JOURNAL) == 1

    # The fault gone, the same step does both.
    await admin.delete(JOURNAL)
    await store.commit_turn(end, entry())
    (recorded,) = await store.journal()
    assert recorded.id == 2
    after = await store.begin_turn("a", T1)
    assert (after.turn, after.previous) == ((2, Turn("hello", "hi!")) if kept else (1, None))
