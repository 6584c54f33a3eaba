"""The Redis store: every worker and replica on one Redis is one emulator.

Built on redis-py's asyncio client. Each step that must be atomic across processes is one Lua
script (``store/lua/*.lua``): opening a turn (the count, the thread's last exchange, and the
shared view a request needs, in one round trip), committing it with its journal entry, keeping
uploaded files under the byte quota, rotating a key. Claiming a queued reply is ``LREM`` of its
exact text, which succeeds for exactly one process.

Bounds are Redis's own where it has them (a thread's idle time and a file's lifetime are key
TTLs, the journal is a capped stream) and kept in sorted sets where it has not (the least
recently used threads beyond ``max_threads``; the bytes of files not yet expired), so nothing
ever scans every thread or file.

Redis lost while serving: every call raises ``StoreUnavailable`` (a JSON 503), and the next
call reconnects, so service resumes by itself when Redis is back. Standalone Redis only (the
scripts touch keys they compute, which Redis Cluster does not allow).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Coroutine, Mapping
from functools import wraps
from importlib.resources import files
from typing import Any, ParamSpec, TypeVar
from urllib.parse import parse_qs, urlsplit, urlunsplit

import redis.asyncio as redis
from redis.asyncio.connection import BlockingConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from vivi_emulator.journal import JournalEntry
from vivi_emulator.store.base import Bounds, QueueFull, QuotaExceeded, StateStore, StoreUnavailable
from vivi_emulator.store.keys import KeyRing
from vivi_emulator.store.redis_batch import HiredisPackedConnection, ScriptBatcher
from vivi_emulator.store.values import (
    KEEP,
    NO_OVERRIDES,
    Conversation,
    Keep,
    NewFile,
    Overrides,
    QueuedReply,
    StoredFile,
    Turn,
    TurnStart,
    View,
)

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_PREFIX = "vivi:"
_SEP = "\0"  # between a channel id and a thread id in a thread's key: in neither


def _lua(name: str) -> str:
    return files("vivi_emulator.store").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


def _text(value: bytes | None) -> str | None:
    return value.decode("utf-8") if value is not None else None


def where(url: str) -> str:
    """The store's address for messages: host, port and database, never a password."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or '/0'}"


def _split_url(url: str) -> tuple[str, str]:
    """The URL redis-py takes, and the key prefix (``?prefix=``, an emulator option)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    prefix = query.pop("prefix", [DEFAULT_PREFIX])[0]
    rest = "&".join(f"{k}={v}" for k, values in query.items() for v in values)
    return urlunsplit(parts._replace(query=rest)), prefix


def _guarded(
    method: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Redis errors become StoreUnavailable: a JSON 503 naming the store, no traceback."""

    @wraps(method)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except RedisError as exc:
            store = args[0]
            assert isinstance(store, RedisStore)
            raise StoreUnavailable(
                f"the state store (Redis at {store.where}) is unavailable: "
                f"{type(exc).__name__}: {_first_line(exc)}; retry when it is back"
            ) from None

    return guarded


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [""])[0][:200]


class RedisStore(StateStore):
    name = "redis"

    def __init__(self, url: str, channels: Mapping[str, str], bounds: Bounds | None = None):
        self.bounds = bounds or Bounds()
        self.where = where(url)
        client_url, self._prefix = _split_url(url)
        self._pool = BlockingConnectionPool.from_url(
            client_url,
            max_connections=64,
            timeout=5,
            socket_connect_timeout=2,
            socket_timeout=5,
            # One retry at once: a pooled connection from before a Redis restart fails once,
            # and the retry on a fresh one succeeds; a Redis that is down fails fast.
            retry=Retry(NoBackoff(), 1),
            connection_class=HiredisPackedConnection,
        )
        # Typed loosely: redis-py's annotations mix its sync and asyncio clients' return types.
        self._redis: Any = redis.Redis(connection_pool=self._pool)
        self._seed = dict(channels)
        self._ring = KeyRing.of(self._seed)
        self._ring_version: int | None = None
        self._overrides_cache: dict[bytes, Overrides] = {}
        r, p = self._redis, self._prefix
        self._begin = r.register_script(_lua("begin"))
        self._commit = r.register_script(_lua("commit"))
        self._put = r.register_script(_lua("put_files"))
        self._rekey = r.register_script(_lua("rekey"))
        self._cancel = r.register_script(_lua("cancel"))
        self._keys_key, self._ever_key, self._meta = p + "keys", p + "ever", p + "meta"
        self._threads, self._journal, self._seq = p + "threads", p + "j", p + "j:seq"
        self._files, self._fsize, self._fbytes = p + "files", p + "fsize", p + "fbytes"
        self._seeded = False
        self._batch = ScriptBatcher(self._redis)
        self._idle_ms = int(self.bounds.thread_idle_seconds * 1000)

    # lifecycle

    @_guarded
    async def start(self) -> None:
        await self._redis.ping()
        await self._ensure_seeded()

    async def _ensure_seeded(self) -> None:
        """The configured channels, added where absent: keys rotated at run time win."""
        if self._seeded:
            return
        for channel_id, key in self._seed.items():
            await self._rekey(
                keys=[self._keys_key, self._ever_key, self._meta], args=["add", channel_id, key]
            )
        self._seeded = True
        await self._refresh_keys()

    async def close(self) -> None:
        await self._redis.aclose()
        await self._pool.aclose()

    # channels and keys

    def cached_keys(self) -> KeyRing:
        return self._ring

    async def _refresh_keys(self) -> KeyRing:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hget(self._meta, "keys").hgetall(self._keys_key).smembers(self._ever_key)
            version, keys, ever = await pipe.execute()
        self._ring = KeyRing.of(
            {k.decode(): v.decode() for k, v in keys.items()},
            (e.decode() for e in ever),
            int(version or 0),
        )
        self._ring_version = self._ring.version
        return self._ring

    @_guarded
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

    @_guarded
    async def add_channel(self, channel_id: str, key: str) -> bool:
        await self._ensure_seeded()
        done = await self._rekey(
            keys=[self._keys_key, self._ever_key, self._meta], args=["add", channel_id, key]
        )
        await self._refresh_keys()
        return bool(done)

    @_guarded
    async def set_key(self, channel_id: str, key: str) -> bool:
        await self._ensure_seeded()
        done = await self._rekey(
            keys=[self._keys_key, self._ever_key, self._meta], args=["set", channel_id, key]
        )
        await self._refresh_keys()
        return bool(done)

    @_guarded
    async def remove_channel(self, channel_id: str) -> bool:
        await self._ensure_seeded()
        done = await self._rekey(
            keys=[self._keys_key, self._ever_key, self._meta], args=["remove", channel_id, ""]
        )
        await self._refresh_keys()
        return bool(done)

    # threads

    def _thread_key(self, channel_id: str, thread_id: str) -> tuple[str, str]:
        member = f"{channel_id}{_SEP}{thread_id.lower()}"
        return self._prefix + "t:" + member, member

    def _scope_key(self, kind: str, scope: str | None) -> str:
        return f"{self._prefix}{kind}:" if scope is None else f"{self._prefix}{kind}:c:{scope}"

    def _parse_overrides(self, raw: bytes | None) -> Overrides:
        if raw is None:
            return NO_OVERRIDES
        cached = self._overrides_cache.get(raw)
        if cached is None:
            if len(self._overrides_cache) > 256:
                self._overrides_cache.clear()
            cached = self._overrides_cache[raw] = Overrides.model_validate_json(raw)
        return cached

    @_guarded
    async def begin_turn(self, channel_id: str, thread_id: str) -> TurnStart:
        if not self._seeded:
            await self._ensure_seeded()
        reply = await self._batch.call(
            self._begin,
            self._prefix,
            channel_id,
            thread_id.lower(),
            self._idle_ms,
            self.bounds.max_threads,
        )
        (turn, message, reply_text, scenario, first, keys_v, scen_v, qg, qc, og, oc, attempt) = (
            reply
        )
        overrides = self._parse_overrides(oc).over(self._parse_overrides(og))
        view = View(int(keys_v or 0), int(scen_v or 0), overrides, int(qg) + int(qc))
        previous = (
            Turn(_text(message) or "", _text(reply_text) or "") if message is not None else None
        )
        conversation = Conversation(scenario.decode(), int(first)) if scenario is not None else None
        return TurnStart(int(turn), previous, conversation, view, int(attempt))

    @_guarded
    async def cancel_turn(
        self,
        channel_id: str,
        thread_id: str,
        turn: int,
        conversation: Conversation | Keep | None = KEEP,
    ) -> None:
        key, _ = self._thread_key(channel_id, thread_id)
        if conversation is KEEP:
            args: list[Any] = [turn, "keep", "", 0]
        elif conversation is None:
            args = [turn, "clear", "", 0]
        else:
            args = [turn, "set", conversation.scenario, conversation.first_turn]
        await self._cancel(keys=[key], args=args)

    @_guarded
    async def commit_turn(
        self,
        channel_id: str,
        thread_id: str,
        turn: int,
        exchange: Turn,
        conversation: Conversation | None,
        entry: JournalEntry | None = None,
    ) -> None:
        await self._batch.call(
            self._commit,
            self._prefix,
            f"{channel_id}{_SEP}{thread_id.lower()}",
            turn,
            exchange.message,
            exchange.reply,
            conversation.scenario if conversation else "",
            conversation.first_turn if conversation else 0,
            entry.to_json() if entry is not None else "",
            self.bounds.journal_size,
        )

    # journal

    @_guarded
    async def record(self, entry: JournalEntry) -> None:
        await self._batch.call(
            self._commit, self._prefix, "", 0, "", "", "", 0, entry.to_json(),
            self.bounds.journal_size,
        )  # fmt: skip

    @_guarded
    async def journal(self) -> list[JournalEntry]:
        rows = await self._redis.xrange(self._journal)
        return [JournalEntry.from_json(fields[b"e"], int(fields[b"i"])) for _, fields in rows]

    @_guarded
    async def clear_journal(self, channel_id: str | None = None) -> None:
        if channel_id is None:
            await self._redis.delete(self._journal)
            return
        rows = await self._redis.xrange(self._journal)
        gone = [
            stream_id
            for stream_id, fields in rows
            if json.loads(fields[b"e"])["channel"] == channel_id
        ]
        if gone:
            await self._redis.xdel(self._journal, *gone)

    # the queue

    @staticmethod
    def _reply_json(reply: QueuedReply) -> str:
        scenario = reply.scenario.model_dump(mode="json", exclude_defaults=True)
        return json.dumps({"id": reply.id, "channel": reply.channel, "scenario": scenario})

    @staticmethod
    def _reply_of(raw: bytes) -> QueuedReply:
        from vivi_emulator.scenarios.model import Scenario

        data = json.loads(raw)
        return QueuedReply(data["id"], Scenario.model_validate(data["scenario"]), data["channel"])

    @_guarded
    async def push(self, reply: QueuedReply) -> int:
        key = self._scope_key("q", reply.channel)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, self._reply_json(reply)).llen(key)
            _, length = await pipe.execute()
        if length > self.bounds.max_queued:
            await self._redis.rpop(key)
            raise QueueFull(f"the queue holds at most {self.bounds.max_queued} replies")
        return int(length)

    @_guarded
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
        return [self._reply_of(raw) for items in lists for raw in items]

    @_guarded
    async def claim(self, reply: QueuedReply) -> bool:
        removed = await self._redis.lrem(
            self._scope_key("q", reply.channel), 1, self._reply_json(reply)
        )
        return bool(removed)

    @_guarded
    async def clear_queue(self, channel_id: str | None = None) -> None:
        if channel_id is not None:
            await self._redis.delete(self._scope_key("q", channel_id))
            return
        await self._delete_matching(self._prefix + "q:*")

    async def _delete_matching(self, pattern: str) -> None:
        batch: list[bytes] = []
        async for key in self._redis.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                await self._redis.unlink(*batch)
                batch.clear()
        if batch:
            await self._redis.unlink(*batch)

    # overrides

    @_guarded
    async def overrides(self, scope: str | None) -> Overrides:
        return self._parse_overrides(await self._redis.get(self._scope_key("o", scope)))

    @_guarded
    async def set_overrides(self, scope: str | None, overrides: Overrides) -> None:
        key = self._scope_key("o", scope)
        if overrides == NO_OVERRIDES:
            await self._redis.delete(key)
        else:
            await self._redis.set(key, overrides.model_dump_json(exclude_none=True))

    # files

    @_guarded
    async def put_files(self, channel_id: str, files: list[NewFile]) -> list[str]:
        ids = [secrets.token_urlsafe(18) for _ in files]
        args: list[Any] = [
            int(self.bounds.file_ttl_seconds * 1000),
            self.bounds.files_quota_bytes,
            self._prefix + "f:",
        ]
        for file_id, new in zip(ids, files, strict=True):
            meta = {"channel": channel_id, "name": new.name, "content_type": new.content_type}
            args += [file_id, json.dumps(meta), new.data]
        done, used = await self._put(keys=[self._files, self._fsize, self._fbytes], args=args)
        if int(done) != 1:
            quota = self.bounds.files_quota_bytes
            size = sum(len(f.data) for f in files)
            raise QuotaExceeded(
                f"uploaded files are limited to {quota} bytes in all (files_quota_bytes); "
                f"{int(used)} are in use and these need {size}"
            )
        return ids

    @_guarded
    async def get_file(self, file_id: str) -> StoredFile | None:
        meta, data = await self._redis.hmget(self._prefix + "f:" + file_id, ["meta", "data"])
        if meta is None or data is None:
            return None
        info = json.loads(meta)
        return StoredFile(info["channel"], info["name"], info["content_type"], data)

    @_guarded
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

    @_guarded
    async def bump_scenarios(self) -> int:
        return int(await self._redis.hincrby(self._meta, "scenarios", 1))

    @_guarded
    async def reset(self, channel_id: str | None = None) -> None:
        if channel_id is None:
            for kind in ("t", "f", "q", "o"):
                await self._delete_matching(f"{self._prefix}{kind}:*")
            await self._redis.delete(
                self._threads, self._files, self._fsize, self._fbytes, self._journal
            )
            return
        members = await self._redis.zrange(self._threads, 0, -1)
        mine = [m for m in members if m.startswith(f"{channel_id}{_SEP}".encode())]
        if mine:
            await self._redis.zrem(self._threads, *mine)
            await self._redis.unlink(*[self._prefix.encode() + b"t:" + m for m in mine])
        await self._reset_files(channel_id)
        await self._redis.delete(self._scope_key("o", channel_id))
        await self.clear_journal(channel_id)
        await self.clear_queue(channel_id)

    async def _reset_files(self, channel_id: str) -> None:
        ids = await self._redis.hkeys(self._fsize)
        for file_id in ids:
            meta = await self._redis.hget(self._prefix.encode() + b"f:" + file_id, "meta")
            if meta is None or json.loads(meta)["channel"] == channel_id:
                size = int(await self._redis.hget(self._fsize, file_id) or 0)
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.unlink(self._prefix.encode() + b"f:" + file_id)
                    pipe.hdel(self._fsize, file_id).zrem(self._files, file_id)
                    pipe.decrby(self._fbytes, size)
                    await pipe.execute()
