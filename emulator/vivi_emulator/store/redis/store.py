"""``RedisStore``: the state store on Redis, assembled from its parts (one per kind of state;
the package's docstring tells the whole design), with what spans them: start and close, usage,
the fixtures' version, and reset."""

from __future__ import annotations

from vivi_emulator.store.base import StateStore
from vivi_emulator.store.redis.buckets import RedisBuckets
from vivi_emulator.store.redis.client import SEP, guarded
from vivi_emulator.store.redis.files import RedisFiles
from vivi_emulator.store.redis.keys import RedisKeys
from vivi_emulator.store.redis.queue import RedisQueue
from vivi_emulator.store.redis.threads import RedisThreads


class RedisStore(RedisKeys, RedisThreads, RedisQueue, RedisFiles, StateStore):
    name = "redis"

    @guarded
    async def start(self) -> None:
        await self._redis.ping()
        await self._ensure_seeded()

    def buckets(self) -> RedisBuckets:
        return RedisBuckets(self._redis, self._prefix, self.where, self._batch)

    async def close(self) -> None:
        await self._redis.aclose()
        await self._pool.aclose()

    @guarded
    async def usage(self) -> dict[str, int]:
        queues = [k async for k in self._redis.scan_iter(match=self._prefix + "q:*")]
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zcard(self._threads).zcard(self._files).get(self._fbytes).xlen(self._journal)
            for key in queues:
                pipe.llen(key)
            threads, nfiles, fbytes, entries, *lengths = await pipe.execute()
        return {
            "threads": int(threads),
            "files": int(nfiles),
            "file_bytes": int(fbytes or 0),
            "journal_entries": int(entries),
            "queued": sum(int(n) for n in lengths),
        }

    @guarded
    async def bump_scenarios(self) -> int:
        return int(await self._redis.hincrby(self._meta, "scenarios", 1))

    @guarded
    async def reset(self, channel_id: str | None = None) -> None:
        if channel_id is None:
            for kind in ("t", "f", "q", "o"):
                await self._delete_matching(f"{self._prefix}{kind}:*")
            await self._redis.delete(
                self._threads, self._files, self._fsize, self._fbytes, self._journal
            )
            return
        members = await self._redis.zrange(self._threads, 0, -1)
        mine = [m for m in members if m.startswith(f"{channel_id}{SEP}".encode())]
        if mine:
            await self._redis.zrem(self._threads, *mine)
            await self._redis.unlink(*[self._prefix.encode() + b"t:" + m for m in mine])
        await self._reset_files(channel_id)
        await self._redis.delete(self._scope_key("o", channel_id))
        await self.clear_journal(channel_id)
        await self.clear_queue(channel_id)
