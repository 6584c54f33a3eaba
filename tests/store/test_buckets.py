"""The rate limiter's store role (store/buckets.py, store/redis/buckets.py): the same rule in
memory (with an injected clock, to step time exactly) and on a real Redis (one Lua step, on
Redis's own clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from vivi_emulator.ratelimit_rules import Bucket
from vivi_emulator.store import buckets as buckets_module
from vivi_emulator.store.base import StoreUnavailable
from vivi_emulator.store.buckets import (
    SLOT_GRACE_SECONDS,
    Buckets,
    Demand,
    MemoryBuckets,
    retry_seconds,
)
from vivi_emulator.store.redis.store import RedisStore
from vivi_emulator.store.redis.url import DEFAULT_PREFIX

from tests.redis_server import RedisServer

C = "limited-channel"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def buckets(state: str) -> AsyncIterator[Buckets]:
    """Each backend's buckets (the ``state`` fixture: memory, then Redis)."""
    if state == "memory":
        yield MemoryBuckets()
        return
    store = RedisStore(state, {})
    await store.start()
    try:
        yield store.buckets()
    finally:
        await store.close()


def requests(per_minute: int, burst: int) -> Demand:
    return Demand(requests=Bucket(per_minute, burst))


async def test_a_burst_is_admitted_exactly_and_the_rest_told_when(buckets: Buckets) -> None:
    # One request a minute: nothing refills during the test.
    decisions = [await buckets.decide(C, requests(1, 3)) for _ in range(5)]
    assert [d.admitted for d in decisions] == [True, True, True, False, False]
    assert [d.requests.remaining for d in decisions if d.requests] == pytest.approx(
        [2, 1, 0, 0, 0], abs=0.01
    )
    refused = decisions[3]
    assert refused.refused == ("requests",)
    assert refused.retry_after == pytest.approx(60, abs=0.5)
    assert decisions[0].requests is not None
    assert decisions[0].requests.reset == pytest.approx(60, abs=0.5)  # one spent: 60 s to full


async def test_a_refusal_changes_nothing(buckets: Buckets) -> None:
    # The tokens refuse; the request bucket is not charged either.
    demand = Demand(requests=Bucket(1, 2), tokens=Bucket(1, 10), cost=8)
    assert (await buckets.decide(C, demand)).admitted
    refused = await buckets.decide(C, demand)
    assert refused.refused == ("tokens",)
    assert refused.requests is not None
    assert refused.requests.remaining == pytest.approx(1, abs=0.01)
    small = await buckets.decide(C, Demand(requests=Bucket(1, 2), tokens=Bucket(1, 10), cost=2))
    assert small.admitted


async def test_a_cost_over_the_burst_can_never_pass(buckets: Buckets) -> None:
    decision = await buckets.decide(C, Demand(tokens=Bucket(600, 100), cost=101))
    assert decision.refused == ("tokens",)
    assert decision.retry_after is None


async def test_stream_slots_are_held_until_released(buckets: Buckets) -> None:
    def stream(slot: str) -> Demand:
        return Demand(streams=2, stream_seconds=30.0, slot=slot)

    assert (await buckets.decide(C, stream("a"))).admitted
    assert (await buckets.decide(C, stream("b"))).streams == 2
    third = await buckets.decide(C, stream("c"))
    assert third.refused == ("streams",)
    # The earliest running stream is scripted to end in 30 s.
    assert third.retry_after == pytest.approx(30, abs=1)
    await buckets.release(C, "a")
    assert (await buckets.decide(C, stream("c"))).admitted


async def test_channels_have_their_own_buckets_and_reset_fills_them(buckets: Buckets) -> None:
    assert (await buckets.decide(C, requests(1, 1))).admitted
    assert not (await buckets.decide(C, requests(1, 1))).admitted
    assert (await buckets.decide("other", requests(1, 1))).admitted
    await buckets.reset(C)
    assert (await buckets.decide(C, requests(1, 1))).admitted
    assert not (await buckets.decide("other", requests(1, 1))).admitted
    await buckets.reset()
    assert (await buckets.decide("other", requests(1, 1))).admitted


async def test_a_retry_after_the_wait_succeeds() -> None:
    clock = Clock()
    buckets = MemoryBuckets(clock)
    demand = Demand(requests=Bucket(60, 2), tokens=Bucket(600, 50), cost=30)
    assert (await buckets.decide(C, demand)).admitted
    refused = await buckets.decide(C, demand)
    # 20 tokens left of the 30 needed, at 10 a second: 1 s.
    assert refused.refused == ("tokens",)
    assert refused.retry_after == pytest.approx(1.0)
    clock.now += 0.99
    assert not (await buckets.decide(C, demand)).admitted
    clock.now += 0.01
    admitted = await buckets.decide(C, demand)
    assert admitted.admitted
    assert admitted.tokens is not None
    assert admitted.tokens.remaining == pytest.approx(0)
    assert admitted.tokens.reset == pytest.approx(5.0)  # 50 tokens at 10 a second


async def test_a_bucket_refills_to_its_burst_and_no_more() -> None:
    clock = Clock()
    buckets = MemoryBuckets(clock)
    for _ in range(3):
        assert (await buckets.decide(C, requests(60, 3))).admitted
    clock.now += 3600
    decision = await buckets.decide(C, requests(60, 3))
    assert decision.requests is not None
    assert decision.requests.remaining == pytest.approx(2)


async def test_a_slot_of_a_dead_process_is_freed_after_its_grace() -> None:
    clock = Clock()
    buckets = MemoryBuckets(clock)
    demand = Demand(streams=1, stream_seconds=10.0, slot="lost")
    assert (await buckets.decide(C, demand)).admitted
    clock.now += 309
    assert not (await buckets.decide(C, Demand(streams=1, slot="next"))).admitted
    clock.now += 2
    assert (await buckets.decide(C, Demand(streams=1, slot="next"))).admitted


def test_retry_after_is_whole_seconds_never_early() -> None:
    assert [retry_seconds(w) for w in (0.0, 0.2, 1.0, 1.01, 59.5)] == [1, 1, 1, 2, 60]


async def test_redis_lost_is_store_unavailable_and_a_restart_is_served(
    fresh_redis: RedisServer,
) -> None:
    store = RedisStore(fresh_redis.url, {})
    await store.start()
    buckets = store.buckets()
    try:
        assert (await buckets.decide(C, requests(1, 1))).admitted
        fresh_redis.stop()
        with pytest.raises(StoreUnavailable, match="is unavailable"):
            await buckets.decide(C, requests(1, 1))
        fresh_redis.start()  # empty (no persistence), and without the Lua step loaded
        assert (await buckets.decide(C, requests(1, 1))).admitted
    finally:
        await store.close()


async def test_one_process_keeps_a_bounded_number_of_channels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(buckets_module, "MAX_CHANNELS", 2)
    buckets = MemoryBuckets()
    for channel in ("a", "b", "a", "c"):  # "b" is now the least recently used
        await buckets.decide(channel, requests(1, 1))
    # "b" was forgotten: its bucket is full again; "a" and "c" are still spent.
    assert [(await buckets.decide(c, requests(1, 1))).admitted for c in ("a", "c", "b")] == [
        False,
        False,
        True,
    ]


async def test_on_redis_a_channels_buckets_and_slots_expire(redis_url: str) -> None:
    store = RedisStore(redis_url, {})
    await store.start()
    raw = redis.Redis.from_url(redis_url)
    try:
        buckets = store.buckets()
        # One request spent of 60 a minute: full again in a second; the hash goes a second later.
        await buckets.decide(C, Demand(requests=Bucket(60, 3), streams=5, slot="s"))
        assert 1000 < await raw.pttl(f"{DEFAULT_PREFIX}rl:{C}") <= 2000
        # The slot set lives until the stream's scripted end plus the grace, and a second more.
        slots_ttl = await raw.pttl(f"{DEFAULT_PREFIX}rsx:{C}")
        assert (SLOT_GRACE_SECONDS - 1) * 1000 < slots_ttl <= (SLOT_GRACE_SECONDS + 1) * 1000
    finally:
        await raw.aclose()
        await store.close()


async def test_a_cost_of_exactly_the_burst_passes_once_the_bucket_is_full() -> None:
    clock = Clock()
    buckets = MemoryBuckets(clock)
    demand = Demand(tokens=Bucket(600, 100), cost=100)
    assert (await buckets.decide(C, demand)).admitted
    refused = await buckets.decide(C, demand)
    assert refused.retry_after == pytest.approx(10.0)  # 100 tokens at 10 a second
    clock.now += 10
    assert (await buckets.decide(C, demand)).admitted


async def test_waits_under_a_second_are_told_as_they_are() -> None:
    clock = Clock()
    buckets = MemoryBuckets(clock)
    admitted = await buckets.decide(
        C, Demand(requests=Bucket(600, 3), tokens=Bucket(600, 50), cost=45)
    )
    assert admitted.requests is not None
    assert admitted.requests.reset == pytest.approx(0.1)  # one request of 3, at 10 a second
    refused = await buckets.decide(C, Demand(tokens=Bucket(600, 50), cost=10))
    assert refused.retry_after == pytest.approx(0.5)  # 5 tokens short, at 10 a second
    full = await buckets.decide(
        "other", Demand(requests=Bucket(1, 2), tokens=Bucket(1, 10), cost=11)
    )
    assert full.refused == ("tokens",)
    assert full.requests is not None
    assert full.requests.reset == 0.0  # the refusal charged nothing: full now


async def test_an_admitted_message_waits_for_nothing(buckets: Buckets) -> None:
    decision = await buckets.decide(C, Demand(requests=Bucket(1, 2), streams=1, slot="s"))
    assert decision.admitted
    assert decision.retry_after == 0


async def test_with_no_stream_allowed_a_stream_is_never_told_to_retry(buckets: Buckets) -> None:
    decision = await buckets.decide(C, Demand(streams=0, slot="s"))
    assert decision.refused == ("streams",)
    assert decision.retry_after is None


async def test_one_stream_allowed_the_next_is_told_when_the_running_one_ends() -> None:
    clock = Clock()
    buckets = MemoryBuckets(clock)
    assert (await buckets.decide(C, Demand(streams=1, stream_seconds=20.0, slot="a"))).admitted
    clock.now += 19.5
    waiting = await buckets.decide(C, Demand(streams=1, slot="b"))
    assert waiting.retry_after == pytest.approx(0.5)
    # Past its scripted end, not released (it runs late, or its process died): retry at once.
    clock.now += 10
    late = await buckets.decide(C, Demand(streams=1, slot="b"))
    assert late.refused == ("streams",)
    assert late.retry_after == 0.0


async def test_a_dead_process_slot_is_free_exactly_at_the_end_of_its_grace() -> None:
    clock = Clock()
    buckets = MemoryBuckets(clock)
    assert (await buckets.decide(C, Demand(streams=1, stream_seconds=10.0, slot="lost"))).admitted
    clock.now += 10.0 + SLOT_GRACE_SECONDS
    assert (await buckets.decide(C, Demand(streams=1, slot="next"))).admitted


async def test_releasing_a_slot_not_held_or_resetting_an_unknown_channel_is_harmless(
    buckets: Buckets,
) -> None:
    assert (await buckets.decide(C, Demand(streams=1, slot="held"))).admitted
    await buckets.release(C, "never-taken")
    await buckets.reset("never-limited")
    refused = await buckets.decide(C, Demand(streams=1, slot="next"))
    assert refused.refused == ("streams",)  # the held slot is still held
    await buckets.release(C, "held")
    await buckets.release(C, "held")
    assert (await buckets.decide(C, Demand(streams=1, slot="next"))).admitted
