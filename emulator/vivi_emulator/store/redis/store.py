"""``RedisStore``: the state store on Redis, composed of one client and a part per kind of
state (the package's docstring tells the whole design): each role's methods are its part's;
what spans them (start and close, usage, the fixtures' version, reset) is here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from vivi_emulator.store.base import Bounds, StateStore
from vivi_emulator.store.keys import KeyRing
from vivi_emulator.store.redis.buckets import RedisBuckets
from vivi_emulator.store.redis.client import RedisClient, RedisPart, guarded, log
from vivi_emulator.store.redis.files import RedisFiles
from vivi_emulator.store.redis.keys import RedisKeys
from vivi_emulator.store.redis.queue import RedisQueue
from vivi_emulator.store.redis.threads import RedisThreads
from vivi_emulator.store.values import (
    KEEP,
    Conversation,
    Keep,
    NewFile,
    Overrides,
    QueuedReply,
    StoredFile,
    TurnEnd,
    TurnStart,
)

if TYPE_CHECKING:
    from vivi_emulator.journal import JournalEntry


class RedisStore(RedisPart, StateStore):
    name = "redis"

    def __init__(self, url: str, channels: Mapping[str, str], bounds: Bounds | None = None) -> None:
        super().__init__(RedisClient(url, channels, bounds))
        self.bounds = self.client.bounds
        self._keys = RedisKeys(self.client)
        self._threads = RedisThreads(self.client)
        self._queue = RedisQueue(self.client)
        self._files = RedisFiles(self.client)

    # keys

    def cached_keys(self) -> KeyRing:
        return self._keys.cached_keys()

    async def keys(self) -> KeyRing:
        return await self._keys.keys()

    async def add_channel(self, channel_id: str, key: str) -> bool:
        return await self._keys.add_channel(channel_id, key)

    async def set_key(self, channel_id: str, key: str) -> bool:
        return await self._keys.set_key(channel_id, key)

    async def remove_channel(self, channel_id: str) -> bool:
        return await self._keys.remove_channel(channel_id)

    # turns and the journal

    async def begin_turn(
        self, channel_id: str, thread_id: str, generation: int | None = None
    ) -> TurnStart:
        return await self._threads.begin_turn(channel_id, thread_id, generation)

    async def cancel_turn(
        self,
        channel_id: str,
        thread_id: str,
        turn: int,
        conversation: Conversation | Keep | None = KEEP,
        generation: int | None = None,
    ) -> None:
        await self._threads.cancel_turn(channel_id, thread_id, turn, conversation, generation)

    async def commit_turn(
        self, end: TurnEnd, entry: JournalEntry | None = None, as_of: KeyRing | None = None
    ) -> None:
        await self._threads.commit_turn(end, entry, as_of)

    async def record(
        self, entry: JournalEntry, generation: int | None = None, as_of: KeyRing | None = None
    ) -> None:
        await self._threads.record(entry, generation, as_of)

    async def journal(self) -> list[JournalEntry]:
        return await self._threads.journal()

    async def clear_journal(self, channel_id: str | None = None) -> None:
        await self._threads.clear_journal(channel_id)

    # scripting: the queue and overrides

    async def queue_number(self, scope: str | None) -> int:
        return await self._queue.queue_number(scope)

    async def push(self, reply: QueuedReply) -> int:
        return await self._queue.push(reply)

    async def queued(self, channel_id: str | None) -> list[QueuedReply]:
        return await self._queue.queued(channel_id)

    async def claim(
        self, reply: QueuedReply, channel_id: str | None = None, generation: int | None = None
    ) -> bool:
        return await self._queue.claim(reply, channel_id, generation)

    async def clear_queue(self, channel_id: str | None = None) -> None:
        await self._queue.clear_queue(channel_id)

    async def overrides(self, scope: str | None) -> Overrides:
        return await self._queue.overrides(scope)

    async def set_override(self, scope: str | None, name: str, value: object) -> None:
        await self._queue.set_override(scope, name, value)

    # files

    async def put_files(
        self, channel_id: str, files: list[NewFile], generation: int | None = None
    ) -> list[str]:
        return await self._files.put_files(channel_id, files, generation)

    async def get_file(self, file_id: str) -> StoredFile | None:
        return await self._files.get_file(file_id)

    # what spans the parts

    @guarded
    async def start(self) -> None:
        await self.client.redis.ping()
        await self.client.seed_now()

    @guarded
    async def check(self) -> None:
        await self.start()
        await self._warn_if_evicting()

    async def _warn_if_evicting(self) -> None:
        """One clear line when Redis may evict keys: it would silently drop threads, queued
        replies, the journal and the seeded channels (README, "Redis")."""
        try:
            config = await self.client.redis.config_get("maxmemory-policy")
        except RedisError:  # CONFIG may be refused (a managed Redis): nothing to tell
            return
        policy = config.get("maxmemory-policy") or config.get(b"maxmemory-policy")
        if isinstance(policy, bytes):
            policy = policy.decode()
        if policy is not None and policy != "noeviction":
            log.warning(
                "the state store (Redis at %s) has maxmemory-policy %s: it may evict the "
                "emulator's state (threads, queue, journal, channels); set it to noeviction",
                self.client.where,
                policy,
            )

    def buckets(self) -> RedisBuckets:
        c = self.client
        return RedisBuckets(c.redis, c.prefix, c.where, c.batch)

    async def close(self) -> None:
        await self.client.close()

    @guarded
    async def usage(self) -> dict[str, int]:
        queues = [k async for k in self.client.redis.scan_iter(match=self.client.prefix + "q:*")]
        async with self.client.redis.pipeline(transaction=False) as pipe:
            pipe.zcard(self.client.threads_key).zcard(self.client.files_key).get(
                self.client.fbytes
            ).xlen(self.client.journal_key)
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
        return int(await self.client.redis.hincrby(self.client.meta, "scenarios", 1))

    @guarded
    async def reset(self, channel_id: str | None = None) -> None:
        if channel_id is not None:
            await self.client.scripts.channel(
                keys=[], args=[self.client.prefix, "reset", "", channel_id]
            )
            return
        for kind in ("t", "f", "fc", "q", "qd", "qn", "ov"):
            await self.client.delete_matching(f"{self.client.prefix}{kind}:*")
        await self.client.redis.delete(
            self.client.threads_key,
            self.client.files_key,
            self.client.fsize,
            self.client.fbytes,
            self.client.fown,
            self.client.journal_key,
        )
