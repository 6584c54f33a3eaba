"""The Redis store knows the Redis it seeded (its epoch): an emptied or replaced Redis gets the
configured channels again before anything is served, and start-up says when Redis may evict."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis

from vivi_emulator.service import Emulator
from vivi_emulator.settings import Settings
from vivi_emulator.store.redis.store import RedisStore

from tests.redis_server import RedisServer
from tests.support import AUTH, THREAD, serving, url

BODY = {"message": "hi", "threadId": THREAD}


@pytest.fixture
async def admin(redis_url: str) -> AsyncIterator[Any]:
    """A plain client of the same Redis, for what a test does to it from outside."""
    client = redis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_an_emptied_redis_whose_first_request_is_a_control_write_keeps_the_channels(
    redis_url: str, admin: Any
) -> None:
    settings = Settings(access_log=False, reload_fixtures=False, state=redis_url)
    async with serving(settings) as client:
        assert (await client.post(url("invoke"), headers=AUTH, json=BODY)).status_code == 200
        await admin.flushall()  # Redis restarted without persistence
        # The pytest plugin's first call: make a channel.
        made = await client.post("/_emulator/channels", json={"id": "mine", "key": "mine-key"})
        assert made.status_code < 300, made.text
        again = await client.post(url("invoke"), headers=AUTH, json=BODY)
        assert again.status_code == 200, again.text
        assert again.json()["threadId"] == THREAD
        mine = await client.post(
            url("invoke", "mine"), headers={"vivi-api-key": "mine-key"}, json=BODY
        )
        assert mine.status_code == 200


async def test_a_replica_idle_across_a_restart_does_not_keep_its_old_keys(
    redis_url: str, admin: Any
) -> None:
    idle = RedisStore(redis_url, {"a": "key-a"})
    await idle.start()
    assert await idle.add_channel("b", "key-b")
    version = (await idle.keys()).version
    await admin.flushall()
    other = RedisStore(redis_url, {"a": "key-a"})
    await other.start()
    # The emptied Redis's key version climbs back to the idle replica's, with other keys.
    while (await other.keys()).version < version:
        assert await other.add_channel(f"c{(await other.keys()).version}", "other")
    try:
        ring = await idle.keys()
        assert "b" not in ring.channels()
        assert ring.channels() == (await other.keys()).channels()
    finally:
        await idle.close()
        await other.close()


async def test_start_up_warns_once_when_redis_may_evict(
    fresh_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    admin = redis.Redis.from_url(fresh_redis.url)
    await admin.config_set("maxmemory-policy", "allkeys-lru")
    await admin.aclose()
    store = RedisStore(fresh_redis.url, {"a": "key-a"})
    with caplog.at_level(logging.WARNING, logger="vivi_emulator.store"):
        await store.check()  # what serve does once before its workers start
        await store.start()  # a worker: no second line
    await store.close()
    (warning,) = [r.getMessage() for r in caplog.records if "maxmemory-policy" in r.getMessage()]
    assert "allkeys-lru" in warning
    assert "noeviction" in warning


async def test_start_up_is_quiet_when_redis_does_not_evict(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore(redis_url, {"a": "key-a"})
    with caplog.at_level(logging.WARNING, logger="vivi_emulator.store"):
        await store.check()
    await store.close()
    assert not [r for r in caplog.records if "maxmemory-policy" in r.getMessage()]


async def test_a_key_from_before_a_restart_is_refused_after_it(redis_url: str, admin: Any) -> None:
    settings = Settings(access_log=False, reload_fixtures=False, state=redis_url)
    other = Emulator(settings)  # another replica
    async with serving(settings) as client:
        await client.post("/_emulator/channels", json={"id": "rot", "key": "rot-key-1"})
        old = {"vivi-api-key": "rot-key-1"}
        assert (await client.post(url("invoke", "rot"), headers=old, json=BODY)).is_success
        await admin.flushall()  # Redis restarted empty; the other replica makes it again
        await other.start()
        await other.add_channel("rot", "rot-key-2")
        try:
            stale = await client.post(url("invoke", "rot"), headers=old, json=BODY)
            assert stale.status_code == 401, stale.text
            new = {"vivi-api-key": "rot-key-2"}
            assert (await client.post(url("invoke", "rot"), headers=new, json=BODY)).is_success
        finally:
            await other.close()


async def test_keys_read_after_redis_was_emptied_are_seeded_again(
    redis_url: str, admin: Any
) -> None:
    """The window of ``keys()`` (and of a change of channel): the version checked against this
    epoch's Redis, found moved, then the keys read, and Redis emptied between the two round
    trips. The keys read then are the empty Redis's, not this epoch's: they are seeded again,
    never handed out (a configured channel would answer 404 "unknown channel")."""
    store = RedisStore(redis_url, {"cfg": "key-cfg"})
    other = RedisStore(redis_url, {"cfg": "key-cfg"})
    try:
        await store.start()
        await other.start()
        assert await other.add_channel("made", "key-made")  # the version moves
        epoch = store.client.epoch
        await admin.flushall()  # Redis restarted empty, after the version check
        ring = await store.client.refresh_keys()  # the read that follows the check
        assert ring.channels() == ["cfg"]
        assert store.cached_keys() is ring
        assert ring.epoch == store.client.epoch != epoch
        assert ring.generation("cfg") > 0
    finally:
        await store.close()
        await other.close()
