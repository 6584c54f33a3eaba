"""A process's copy of the queued replies (``store/redis/copies.py``): the step that opens a turn
reads a scope's queue again only when its tail moved, so a waiting reply is parsed once; a reply
pushed by another process is seen by the next turn opened; a reply claimed elsewhere leaves the
copy once a claim of it is answered. On a real redis-server, two stores sharing it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from vivi_emulator.store.redis.copies import QueueCopies
from vivi_emulator.store.redis.store import RedisStore
from vivi_emulator.store.values import View

from tests.store.test_behaviour import CHANNELS, T1, reply


@pytest.fixture
async def two(redis_url: str) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    made = RedisStore(redis_url, CHANNELS), RedisStore(redis_url, CHANNELS)
    for store in made:
        await store.start()
    yield made
    for store in made:
        await store.close()


async def _view(store: RedisStore) -> View:
    return (await store.begin_turn("a", T1)).view


def _names(view: View) -> list[str]:
    assert view.replies is not None
    return [r.scenario.name for r in view.replies]


async def test_a_queue_is_read_again_only_when_another_reply_was_pushed(
    two: tuple[RedisStore, RedisStore],
) -> None:
    here, elsewhere = two
    assert (await _view(here)).replies is None  # nothing queued: nothing read
    await elsewhere.push(reply("first", "a"))
    first = await _view(here)
    assert (first.queued, _names(first)) == (1, ["first"])
    again = await _view(here)
    assert again.replies is not None
    assert first.replies is not None
    assert again.replies[0] is first.replies[0]  # parsed once, not once per request
    await elsewhere.push(reply("anyone"))  # for any channel: after the channel's own
    await elsewhere.push(reply("second", "a"))
    later = await _view(here)
    assert (later.queued, _names(later)) == (3, ["first", "second", "anyone"])
    assert later.replies is not None
    assert later.replies[0] is first.replies[0]


async def test_a_reply_claimed_elsewhere_leaves_the_copy_when_a_claim_of_it_is_answered(
    two: tuple[RedisStore, RedisStore],
) -> None:
    here, elsewhere = two
    await elsewhere.push(reply("first", "a"))
    await elsewhere.push(reply("second", "a"))
    seen = await _view(here)
    assert seen.replies is not None
    assert await elsewhere.claim(seen.replies[0], "a")
    # The queue's tail did not move: the copy still holds it, and its claim is the truth.
    stale = await _view(here)
    assert (stale.queued, _names(stale)) == (1, ["first", "second"])
    assert stale.replies is not None
    assert not await here.claim(stale.replies[0], "a")
    assert _names(await _view(here)) == ["second"]


def test_a_copy_that_changed_since_the_step_asks_the_store() -> None:
    copies = QueueCopies()
    # The step saw the tail of a copy that this process has since dropped (emptied when full):
    # no replies known, so the service reads the queue from the store.
    assert copies.read("c:a", [1, b"tail"]) is None
    assert copies.read("c:a", [0]) == ()
