"""The Redis store's connection and what every part of it shares: the key names, the Lua
steps, the guard that turns Redis errors into a 503, and the configured channels' seeding."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from functools import wraps
from importlib.resources import files
from typing import Any, ParamSpec, TypeVar

import redis.asyncio as redis
from redis.asyncio.connection import BlockingConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from vivi_emulator.store.base import Bounds, StoreUnavailable
from vivi_emulator.store.keys import KeyRing
from vivi_emulator.store.redis.batch import HiredisPackedConnection, ScriptBatcher
from vivi_emulator.store.redis.url import split_url, where
from vivi_emulator.store.values import NO_OVERRIDES, Overrides

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
            store = args[0]
            assert isinstance(store, RedisClient)
            raise store.unavailable(exc) from None

    return safe


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [""])[0][:200]


class RedisClient:
    """The connection, the key names and the scripts; the parts of the store build on it."""

    def __init__(self, url: str, channels: Mapping[str, str], bounds: Bounds | None = None):
        self.bounds = bounds or Bounds()
        self.where = where(url)
        client_url, self._prefix = split_url(url)
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

    def unavailable(self, exc: RedisError | ValueError) -> StoreUnavailable:
        """The 503 for a Redis error, or for a value under the prefix that the emulator did not
        write (a wrong type, a number that is not one, JSON that is not an emulator's: pydantic's
        errors are ValueErrors): another program's keys there, said as such, not a 500."""
        if isinstance(exc, ValueError) or any(m in str(exc) for m in _FOREIGN_DATA):
            return StoreUnavailable(
                f"the state store (Redis at {self.where}) holds data under the prefix "
                f"'{self._prefix}' that the emulator did not write ({type(exc).__name__}): give "
                "the emulator a database or a ?prefix= of its own, or empty this one"
            )
        return StoreUnavailable(
            f"the state store (Redis at {self.where}) is unavailable: "
            f"{type(exc).__name__}: {_first_line(exc)}; retry when it is back"
        )

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

    async def _delete_matching(self, pattern: str) -> None:
        batch: list[bytes] = []
        async for key in self._redis.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                await self._redis.unlink(*batch)
                batch.clear()
        if batch:
            await self._redis.unlink(*batch)
