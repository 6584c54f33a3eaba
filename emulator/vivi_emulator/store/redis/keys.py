"""The Redis store's channels and keys: one hash of keys, one of generations, a list of the keys
kept redacted (the most recent first), and a version that tells every process when its copy is
stale. Every change, a channel's removal with all it holds included, is one Lua step
(``channel``)."""

from __future__ import annotations

from typing import Any

from vivi_emulator.store.keys import KeyRing
from vivi_emulator.store.redis.client import RedisPart, guarded

_NOT_SEEDED = -2


class RedisKeys(RedisPart):
    def cached_keys(self) -> KeyRing:
        return self.client.ring

    @guarded
    async def keys(self) -> KeyRing:
        version, epoch = await self.client.redis.hmget(self.client.meta, ["keys", "epoch"])
        if epoch is None or epoch.decode() != self.client.epoch:
            return await self.client.seed_now()
        if int(version or 0) != self.client.ring.version:
            return await self.client.refresh_keys()
        return self.client.ring

    @guarded
    async def add_channel(self, channel_id: str, key: str) -> bool:
        return await self._changed("add", channel_id, key)

    @guarded
    async def set_key(self, channel_id: str, key: str) -> bool:
        return await self._changed("set", channel_id, key)

    @guarded
    async def remove_channel(self, channel_id: str) -> bool:
        return await self._changed("remove", channel_id, "")

    async def _changed(self, mode: str, channel_id: str, key: str) -> bool:
        """A change of channel; on a Redis new to this process, seeded first, then again."""
        done = await self._channel_step(mode, channel_id, key)
        if done == _NOT_SEEDED:
            await self.client.seed_now()
            done = await self._channel_step(mode, channel_id, key)
        await self.client.refresh_keys()
        return bool(done == 1)

    async def _channel_step(self, mode: str, channel_id: str, key: str) -> int:
        args: list[Any] = [
            self.client.prefix,
            mode,
            self.client.epoch,
            channel_id,
            key,
            self.client.bounds.redacted_keys,
        ]
        return int(await self.client.scripts.channel(keys=[], args=args))
