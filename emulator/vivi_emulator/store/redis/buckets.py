"""``RedisBuckets``: the rate limiter's store role on Redis (``store.buckets`` tells the rule).

Each decision is one Lua step (``lua/buckets.lua``) on Redis's own clock, so every worker and
replica sharing the Redis draws on the same buckets exactly: a burst spread over many processes
is admitted exactly as far as the buckets hold. A channel's buckets are one hash (it expires when
they would be full again) and its stream slots two sorted sets (scripted end, latest release).
"""

from __future__ import annotations

from typing import Any

from redis.exceptions import RedisError

from vivi_emulator.store.base import StoreUnavailable
from vivi_emulator.store.buckets import SLOT_GRACE_SECONDS, Decision, Demand, Level
from vivi_emulator.store.redis.batch import ScriptBatcher
from vivi_emulator.store.redis.client import _lua


def _level(raw: bytes | None) -> Level | None:
    if raw is None:
        return None
    remaining, reset = raw.split()
    return Level(float(remaining), float(reset))


class RedisBuckets:
    """``Buckets`` on a Redis connection shared with the store (its prefix too)."""

    def __init__(self, redis: Any, prefix: str, where: str, batch: ScriptBatcher) -> None:
        self._redis = redis
        self._prefix = prefix
        self._where = where
        # The store's batcher: the decisions of the requests in flight go to Redis as one
        # pipeline, with the store's own steps (a third of the throughput, measured, when not).
        self._batch = batch
        self._decide = redis.register_script(_lua("buckets"))
        self._release = redis.register_script(_lua("release"))

    def _unavailable(self, exc: RedisError) -> StoreUnavailable:
        return StoreUnavailable(
            f"the state store (Redis at {self._where}) is unavailable: "
            f"{type(exc).__name__}; retry when it is back"
        )

    async def decide(self, channel_id: str, demand: Demand) -> Decision:
        requests, tokens = demand.requests, demand.tokens
        args = [
            self._prefix,
            channel_id,
            demand.slot,
            requests.per_minute if requests else 0,
            requests.burst if requests else 0,
            tokens.per_minute if tokens else 0,
            tokens.burst if tokens else 0,
            demand.cost,
            -1 if demand.streams is None else demand.streams,
            repr(demand.stream_seconds),
            repr(SLOT_GRACE_SECONDS),
        ]
        try:
            refused, wait, req, tok, running = await self._batch.call(self._decide, *args)
        except RedisError as exc:
            raise self._unavailable(exc) from None
        return Decision(
            tuple(refused.decode().split()),
            float(wait) if wait is not None else None,
            _level(req),
            _level(tok),
            int(running),
        )

    async def release(self, channel_id: str, slot: str) -> None:
        try:
            await self._batch.call(self._release, self._prefix, channel_id, slot)
        except RedisError as exc:
            raise self._unavailable(exc) from None

    async def reset(self, channel_id: str | None = None) -> None:
        p = self._prefix
        try:
            if channel_id is not None:
                await self._redis.delete(
                    f"{p}rl:{channel_id}", f"{p}rse:{channel_id}", f"{p}rsx:{channel_id}"
                )
                return
            for pattern in ("rl:*", "rse:*", "rsx:*"):
                batch = [k async for k in self._redis.scan_iter(match=p + pattern, count=1000)]
                if batch:
                    await self._redis.unlink(*batch)
        except RedisError as exc:
            raise self._unavailable(exc) from None
