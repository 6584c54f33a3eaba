"""The Redis store's batcher meets faults: a caller cancelled mid-step, scripts Redis forgot
(NOSCRIPT), an error that is not Redis's. Every caller is answered, and nothing runs twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest
import redis.asyncio as redis

from vivi_emulator.store.base import StoreUnavailable
from vivi_emulator.store.redis.store import RedisStore
from vivi_emulator.store.values import TurnEnd

T1 = "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    made = RedisStore(redis_url, {"a": "key-a"})
    await made.start()
    yield made
    await made.close()


@pytest.fixture
async def admin(redis_url: str) -> AsyncIterator[Any]:
    """A plain client of the same Redis, for what a test does to it from outside."""
    client = redis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def _until(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll Redis until ``check`` holds; the deadline only guards a hang."""
    with anyio.fail_after(10):
        while True:
            if await check():
                return
            await anyio.sleep(0.01)


async def _blocked(admin: Any, count: int) -> None:
    """Wait until ``count`` clients wait in Redis (paused): their commands reached it."""

    async def waiting() -> bool:
        return int((await admin.info("clients"))["blocked_clients"]) >= count

    await _until(waiting)


async def test_a_caller_cancelled_while_its_turn_opens_has_it_given_back(
    store: RedisStore, admin: Any
) -> None:
    await admin.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
    try:
        opening = asyncio.create_task(store.begin_turn("a", T1))
        await _blocked(admin, 1)  # the step is in Redis, waiting to run
        opening.cancel()
        with pytest.raises(asyncio.CancelledError):
            await opening
    finally:
        await admin.execute_command("CLIENT", "UNPAUSE")

    # The step ran; nobody learned its turn, so the store gave it back.
    async def given_back() -> bool:
        return bool(await admin.hget(f"{store.client.prefix}t:a\0{T1.lower()}", "n") == b"0")

    await _until(given_back)
    assert (await store.begin_turn("a", T1)).turn == 1


async def test_after_noscript_only_the_steps_that_failed_run_again(
    store: RedisStore, admin: Any
) -> None:
    await admin.script_flush()
    # Redis knows the opening step's script again, not the commit's: in one pipeline, the
    # first runs and the second meets NOSCRIPT.
    await admin.script_load(store.client.scripts.begin.script)
    end = TurnEnd("a", T1, 1, "hello", "hi", None)
    first, _ = await asyncio.gather(store.begin_turn("a", T1), store.commit_turn(end))
    assert first.turn == 1
    assert (await store.begin_turn("a", T1)).turn == 2


async def test_any_error_in_a_batch_answers_every_caller_of_it(store: RedisStore) -> None:
    # A thread id Redis cannot be sent (a lone surrogate is not UTF-8) fails the whole
    # pipeline, and not with a Redis error: every caller in it hears of it, none waits.
    with anyio.fail_after(10):
        results = await asyncio.gather(
            store.begin_turn("a", T1),
            store.begin_turn("a", "\ud800"),
            return_exceptions=True,
        )
    # Each caller gets an error (the store's 503), none a reply it did not get, none waits.
    assert all(isinstance(r, StoreUnavailable) for r in results)
    assert (await store.begin_turn("a", T1)).turn == 1
