"""The Redis store's one-shot queue and per-scope overrides.

A scope's queue is a list of reply ids with a hash of the replies (id to JSON): pushed within
its bound and claimed by id, each in one Lua step (``push``, ``claim``), so exactly one request
claims a reply and nothing past the bound is ever pushed. A scope's overrides are a hash, one
field per setting, each set on its own (``HSET``/``HDEL``): two processes changing two settings
at once both win.

A request sees the queue in the step that opens its turn (``lua/begin.lua``), through this
process's copy of each scope's replies (``QueueCopies``): read again only when the scope's queue
has a new tail, so a waiting reply is parsed once, not once per request, and matching it costs
no round trip.
"""

from __future__ import annotations

import json

from vivi_emulator.store.base import QueueFull
from vivi_emulator.store.redis.client import RedisPart, guarded
from vivi_emulator.store.redis.copies import reply_of
from vivi_emulator.store.values import OVERRIDE_FIELDS, Overrides, QueuedReply


def _reply_json(reply: QueuedReply) -> str:
    scenario = reply.scenario.model_dump(mode="json", exclude_defaults=True)
    return json.dumps({"id": reply.id, "channel": reply.channel, "scenario": scenario})


class RedisQueue(RedisPart):
    def _queue_keys(self, scope: str | None) -> list[str]:
        return [self.client.scope_key("q", scope), self.client.scope_key("qd", scope)]

    @guarded
    async def queue_number(self, scope: str | None) -> int:
        return int(await self.client.redis.incr(self.client.scope_key("qn", scope)))

    @guarded
    async def push(self, reply: QueuedReply) -> int:
        length = int(
            await self.client.scripts.push(
                keys=self._queue_keys(reply.channel),
                args=[reply.id, _reply_json(reply), self.client.bounds.max_queued],
            )
        )
        if length < 0:
            raise QueueFull(f"the queue holds at most {self.client.bounds.max_queued} replies")
        return length

    async def _scopes(self, channel_id: str | None) -> list[str | None]:
        if channel_id is not None:
            return [channel_id, None]
        found = [k async for k in self.client.redis.scan_iter(match=self.client.prefix + "q:c:*")]
        skip = len(self.client.scope_key("q", ""))
        return [None, *sorted(k.decode()[skip:] for k in found)]

    @guarded
    async def queued(self, channel_id: str | None) -> list[QueuedReply]:
        scopes = await self._scopes(channel_id)
        async with self.client.redis.pipeline(transaction=True) as pipe:
            for scope in scopes:
                ids, data = self._queue_keys(scope)
                pipe.lrange(ids, 0, -1).hgetall(data)
            read = await pipe.execute()
        replies = []
        for ids, data in zip(read[::2], read[1::2], strict=True):
            replies += [reply_of(data[i]) for i in ids if i in data]
        return replies

    @guarded
    async def claim(
        self, reply: QueuedReply, channel_id: str | None = None, generation: int | None = None
    ) -> bool:
        claimed = int(
            await self.client.scripts.claim(
                keys=[*self._queue_keys(reply.channel), self.client.gens],
                args=[reply.id, channel_id or "", "" if generation is None else generation],
            )
        )
        if claimed >= 0:  # claimed, here or elsewhere: it waits no more (-1: it still may)
            self.client.queue_copies.forget(reply)
        return claimed == 1

    @guarded
    async def clear_queue(self, channel_id: str | None = None) -> None:
        if channel_id is not None:
            c = f":c:{channel_id}"
            await self.client.redis.delete(
                *(f"{self.client.prefix}{kind}{c}" for kind in ("q", "qd", "qn"))
            )
            return
        for kind in ("q", "qd", "qn"):
            await self.client.delete_matching(f"{self.client.prefix}{kind}:*")

    # overrides

    @guarded
    async def overrides(self, scope: str | None) -> Overrides:
        flat = await self.client.redis.hgetall(self.client.scope_key("ov", scope))
        return self.client.parse_overrides([part for item in flat.items() for part in item])

    @guarded
    async def set_override(self, scope: str | None, name: str, value: object) -> None:
        if name not in OVERRIDE_FIELDS:
            raise ValueError(f"no override named {name!r}")
        key = self.client.scope_key("ov", scope)
        raw = Overrides.field_json(name, value)
        if raw is None:
            await self.client.redis.hdel(key, name)
        else:
            await self.client.redis.hset(key, name, raw)
