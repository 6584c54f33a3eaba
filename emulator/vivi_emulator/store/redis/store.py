"""``RedisStore``: the state store on Redis, assembled from its parts (one per kind of state;
the package's docstring tells the whole design), with what spans them: start and close, usage,
the fixtures' version, and reset."""

from __future__ import annotations

from redis.exceptions import RedisError

from vivi_emulator.store.base import StateStore
from vivi_emulator.store.redis.client import guarded, log
from vivi_emulator.store.redis.files import RedisFiles
from vivi_emulator.store.redis.keys import RedisKeys
from vivi_emulator.store.redis.queue import RedisQueue
from vivi_emulator.store.redis.threads import RedisThreads


class RedisStore(RedisKeys, RedisThreads, RedisQueue, RedisFiles, StateStore):
    name = "redis"

    @guarded
    async def start(self) -> None:
        await self._redis.ping()
        await self._seed_now()
        await self._warn_if_evicting()

    async def _warn_if_evicting(self) -> None:
        """One clear line when Redis may evict keys: it would silently drop threads, queued
        replies, the journal and the seeded channels (README, "Redis")."""
        try:
            config = await self._redis.config_get("maxmemory-policy")
        except RedisError:  # CONFIG may be refused (a managed Redis): nothing to tell
            return
        policy = config.get("maxmemory-policy") or config.get(b"maxmemory-policy")
        if isinstance(policy, bytes):
            policy = policy.decode()
        if policy is not None and policy != "noeviction":
            log.warning(
                "the state store (Redis at %s) has maxmemory-policy %s: it may evict the "
                "emulator's state (threads, queue, journal, channels); set it to noeviction",
                self.where,
                policy,
            )

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
        if channel_id is not None:
            await self._channel(keys=[], args=[self._prefix, "reset", "", channel_id])
            return
        for kind in ("t", "f", "fc", "q", "qd", "qn", "ov"):
            await self._delete_matching(f"{self._prefix}{kind}:*")
        await self._redis.delete(
            self._threads, self._files, self._fsize, self._fbytes, self._fown, self._journal
        )
