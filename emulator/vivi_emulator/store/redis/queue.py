"""The Redis store's one-shot queue and per-scope overrides: a list of queued replies per scope
(a reply is claimed by removing its exact text, which one process alone succeeds in), and one
JSON value of overrides per scope."""

from __future__ import annotations

import json

from vivi_emulator.store.base import QueueFull
from vivi_emulator.store.redis.client import RedisClient, guarded
from vivi_emulator.store.values import NO_OVERRIDES, Overrides, QueuedReply


def _reply_json(reply: QueuedReply) -> str:
    scenario = reply.scenario.model_dump(mode="json", exclude_defaults=True)
    return json.dumps({"id": reply.id, "channel": reply.channel, "scenario": scenario})


def _reply_of(raw: bytes) -> QueuedReply:
    from vivi_emulator.scenarios.model import Scenario

    data = json.loads(raw)
    return QueuedReply(data["id"], Scenario.model_validate(data["scenario"]), data["channel"])


class RedisQueue(RedisClient):
    @guarded
    async def push(self, reply: QueuedReply) -> int:
        key = self._scope_key("q", reply.channel)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, _reply_json(reply)).llen(key)
            _, length = await pipe.execute()
        if length > self.bounds.max_queued:
            await self._redis.rpop(key)
            raise QueueFull(f"the queue holds at most {self.bounds.max_queued} replies")
        return int(length)

    @guarded
    async def queued(self, channel_id: str | None) -> list[QueuedReply]:
        if channel_id is None:
            keys = [k async for k in self._redis.scan_iter(match=self._prefix + "q:*")]
            keys.sort(key=lambda k: (k != self._scope_key("q", None).encode(), k))
        else:
            keys = [self._scope_key("q", channel_id), self._scope_key("q", None)]
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.lrange(key, 0, -1)
            lists = await pipe.execute()
        return [_reply_of(raw) for items in lists for raw in items]

    @guarded
    async def claim(self, reply: QueuedReply) -> bool:
        removed = await self._redis.lrem(self._scope_key("q", reply.channel), 1, _reply_json(reply))
        return bool(removed)

    @guarded
    async def clear_queue(self, channel_id: str | None = None) -> None:
        if channel_id is not None:
            await self._redis.delete(self._scope_key("q", channel_id))
            return
        await self._delete_matching(self._prefix + "q:*")

    # overrides

    @guarded
    async def overrides(self, scope: str | None) -> Overrides:
        return self._parse_overrides(await self._redis.get(self._scope_key("o", scope)))

    @guarded
    async def set_overrides(self, scope: str | None, overrides: Overrides) -> None:
        key = self._scope_key("o", scope)
        if overrides == NO_OVERRIDES:
            await self._redis.delete(key)
        else:
            await self._redis.set(key, overrides.model_dump_json(exclude_none=True))
