"""The Redis store's channels and keys: one hash of keys, a set of every key ever used, and a
version that tells every process when its copy is stale. Changes are one Lua step (``rekey``)."""

from __future__ import annotations

from vivi_emulator.store.keys import KeyRing
from vivi_emulator.store.redis.client import RedisClient, guarded


class RedisKeys(RedisClient):
    def cached_keys(self) -> KeyRing:
        return self._ring

    @guarded
    async def keys(self) -> KeyRing:
        await self._ensure_seeded()
        version = int(await self._redis.hget(self._meta, "keys") or 0)
        if version == 0:  # a Redis that lost its data (restarted without persistence)
            self._seeded = False
            await self._ensure_seeded()
            return self._ring
        if version != self._ring_version:
            return await self._refresh_keys()
        return self._ring

    @guarded
    async def add_channel(self, channel_id: str, key: str) -> bool:
        return await self._rekeyed("add", channel_id, key)

    @guarded
    async def set_key(self, channel_id: str, key: str) -> bool:
        return await self._rekeyed("set", channel_id, key)

    @guarded
    async def remove_channel(self, channel_id: str) -> bool:
        return await self._rekeyed("remove", channel_id, "")

    async def _rekeyed(self, action: str, channel_id: str, key: str) -> bool:
        await self._ensure_seeded()
        done = await self._rekey(
            keys=[self._keys_key, self._ever_key, self._meta], args=[action, channel_id, key]
        )
        await self._refresh_keys()
        return bool(done)
