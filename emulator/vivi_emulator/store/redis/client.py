"""The Redis store's connection and what every part of it shares: the key names, the Lua
steps, the guard that turns Redis errors into a 503, and the configured channels' seeding.

An empty or replaced Redis is recognised by its *epoch*: a random token written when the
configured channels are seeded. Every step that needs the channels (opening a turn, a change of
channel, a key check against the current keys) compares it with the one this process saw, and
seeds again before going on: a Redis restarted empty never loses the configured channels,
whatever the first request after it is.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from functools import wraps
from importlib.resources import files
from typing import Any, ParamSpec, TypeVar

import redis.asyncio as redis
from redis.asyncio.connection import BlockingConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError, RedisError

from vivi_emulator.store.base import Bounds, StoreUnavailable
from vivi_emulator.store.keys import KeyRing
from vivi_emulator.store.redis.batch import HiredisPackedConnection, ScriptBatcher
from vivi_emulator.store.redis.copies import QueueCopies
from vivi_emulator.store.redis.url import split_url, where
from vivi_emulator.store.values import NO_OVERRIDES, Overrides

log = logging.getLogger("vivi_emulator.store")

P = ParamSpec("P")
R = TypeVar("R")

# What Redis says when a command or one of the emulator's scripts meets a value of another shape
# than the emulator writes (a script's runtime error names it: "user_script:21: attempt to ...").
_FOREIGN_DATA = ("WRONGTYPE", "not an integer", "not a valid float", "user_script:")

SEP = "\0"  # between a channel id and a thread id in a thread's key: in neither


def _lua(name: str) -> str:
    here = files("vivi_emulator.store.redis")
    return here.joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


def guarded(
    method: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Redis errors become StoreUnavailable: a JSON 503 naming the store, no traceback."""

    @wraps(method)
    async def safe(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except (RedisError, ValueError) as exc:
            part = args[0]
            assert isinstance(part, RedisPart)
            raise part.client.unavailable(exc) from None

    return safe


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [""])[0][:200]


@dataclass(frozen=True, slots=True)
class Scripts:
    """The Lua steps (``lua/*.lua``), registered once: each is one atomic change."""

    begin: AsyncScript
    settle: AsyncScript
    put: AsyncScript
    channel: AsyncScript
    push: AsyncScript
    claim: AsyncScript


class RedisPart:
    """A part of the Redis store: built on the one client (its methods are ``guarded``)."""

    def __init__(self, client: RedisClient) -> None:
        self.client = client


class RedisClient:
    """The connection, the key names, the scripts, the batcher, and the keys as this process
    last read them (with the epoch of the Redis it seeded): what every part of the store is
    built on."""

    def __init__(self, url: str, channels: Mapping[str, str], bounds: Bounds | None = None):
        self.bounds = bounds or Bounds()
        self.where = where(url)
        client_url, self.prefix = split_url(url)
        self._pool = BlockingConnectionPool.from_url(
            client_url,
            max_connections=64,
            timeout=5,
            socket_connect_timeout=2,
            socket_timeout=5,
            # One retry at once: a pooled connection from before a Redis restart fails once,
            # and the retry on a fresh one succeeds; a Redis that is down fails fast. Never on a
            # timeout: the steps sent may have run, and must not run twice (a turn counted
            # twice, a journal entry written twice).
            retry=Retry(NoBackoff(), 1, supported_errors=(ConnectionError,)),
            connection_class=HiredisPackedConnection,
        )
        # Typed loosely: redis-py's annotations mix its sync and asyncio clients' return types.
        self.redis: Any = redis.Redis(connection_pool=self._pool)
        self._seed = dict(channels)
        self.ring = KeyRing.of(self._seed)
        self._overrides_cache: dict[tuple[tuple[bytes, bytes], ...], Overrides] = {}
        r, p = self.redis, self.prefix
        self.scripts = Scripts(
            begin=r.register_script(_lua("begin")),
            settle=r.register_script(_lua("settle")),
            put=r.register_script(_lua("put_files")),
            channel=r.register_script(_lua("channel")),
            push=r.register_script(_lua("push")),
            claim=r.register_script(_lua("claim")),
        )
        self.keys_key, self.ever_key, self.meta = p + "keys", p + "everkeys", p + "meta"
        self.gens = p + "gens"
        self.threads_key, self.journal_key, self.seq_key = p + "threads", p + "j", p + "j:seq"
        self.files_key, self.fsize, self.fbytes = p + "files", p + "fsize", p + "fbytes"
        self.fown = p + "fown"
        # The epoch of the Redis this process seeded ('': none yet).
        self.epoch = ""
        self.batch = ScriptBatcher(self.redis)
        self.queue_copies = QueueCopies()  # what the opening step saw of the queues
        self.idle_ms = int(self.bounds.thread_idle_seconds * 1000)

    async def seed_now(self) -> KeyRing:
        """Seed the configured channels (added where absent: keys rotated at run time win)
        if Redis is new to this process, and read the keys."""
        args: list[Any] = [
            self.prefix,
            "seed",
            self.epoch,
            secrets.token_hex(16),
            secrets.randbelow(2**40) * 1024,  # generations never meet another epoch's
            self.bounds.redacted_keys,
        ]
        for channel_id, key in self._seed.items():
            args += [channel_id, key]
        # Twice at most: Redis emptied again between the seeding and the read is a 503, not
        # an empty set of keys (a configured channel answered 404 "unknown").
        for _ in range(2):
            epoch = (await self.scripts.channel(keys=[], args=args)).decode()
            if self.epoch and epoch != self.epoch:
                log.warning(
                    "the state store (Redis at %s) was emptied or replaced; "
                    "the configured channels are seeded again",
                    self.where,
                )
            ring = await self._read_keys(epoch)
            if ring is not None:
                # The epoch and the keys read in it change together: a request never takes
                # its generation from the keys of the Redis before while its steps carry the
                # new epoch.
                self.epoch, self.ring = epoch, ring
                return ring
        raise RedisError("emptied again while the configured channels were seeded")

    async def refresh_keys(self) -> KeyRing:
        epoch = self.epoch
        ring = await self._read_keys(epoch)
        if ring is None:  # emptied or replaced since its epoch was checked: seeded again
            return await self.seed_now()
        if self.epoch == epoch:  # else a seeding meanwhile has set newer keys
            self.ring = ring
        return ring

    async def _read_keys(self, epoch: str) -> KeyRing | None:
        """The keys, read in one transaction with the epoch: None when it is not ``epoch``
        (Redis emptied or replaced since ``epoch`` was seen: its keys are not that epoch's,
        and an emptied Redis has none, not even the configured channels)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hmget(self.meta, ["keys", "epoch"]).hgetall(self.keys_key)
            pipe.lrange(self.ever_key, 0, -1).hgetall(self.gens)
            (version, seen), keys, ever, gens = await pipe.execute()
        if seen is None or seen.decode() != epoch:
            return None
        return KeyRing.of(
            {k.decode(): v.decode() for k, v in keys.items()},
            (e.decode() for e in ever),
            int(version or 0),
            {k.decode(): int(v) for k, v in gens.items()},
            epoch,
        )

    async def close(self) -> None:
        await self.redis.aclose()
        await self._pool.aclose()

    def unavailable(self, exc: RedisError | ValueError) -> StoreUnavailable:
        """The 503 for a Redis error, or for a value under the prefix that the emulator did not
        write (a wrong type, a number that is not one, JSON that is not an emulator's: pydantic's
        errors are ValueErrors): another program's keys there, said as such, not a 500."""
        if isinstance(exc, ValueError) or any(m in str(exc) for m in _FOREIGN_DATA):
            return StoreUnavailable(
                f"the state store (Redis at {self.where}) holds data under the prefix "
                f"'{self.prefix}' that the emulator did not write ({type(exc).__name__}): give "
                "the emulator a database or a ?prefix= of its own, or empty this one"
            )
        return StoreUnavailable(
            f"the state store (Redis at {self.where}) is unavailable: "
            f"{type(exc).__name__}: {_first_line(exc)}; retry when it is back"
        )

    def scope_key(self, kind: str, scope: str | None) -> str:
        return f"{self.prefix}{kind}:" if scope is None else f"{self.prefix}{kind}:c:{scope}"

    def parse_overrides(self, flat: list[bytes]) -> Overrides:
        """A scope's overrides from its hash (HGETALL's flat reply): one field per setting."""
        if not flat:
            return NO_OVERRIDES
        raw = tuple(zip(flat[::2], flat[1::2], strict=True))
        cached = self._overrides_cache.get(raw)
        if cached is None:
            if len(self._overrides_cache) > 256:
                self._overrides_cache.clear()
            fields = {k.decode(): v for k, v in raw}
            cached = self._overrides_cache[raw] = Overrides.of_fields(fields)
        return cached

    async def delete_matching(self, pattern: str) -> None:
        batch: list[bytes] = []
        async for key in self.redis.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                await self.redis.unlink(*batch)
                batch.clear()
        if batch:
            await self.redis.unlink(*batch)
