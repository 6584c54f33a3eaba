"""Auto-pipelining: the hot Lua steps issued within one turn of the event loop go to Redis as
one pipeline.

Under load a worker has dozens of requests in flight; sent one by one, each step pays
redis-py's whole per-command path (a pooled connection, a write, a timed read). Gathered, they
share one write and one connection, which is most of the cost of a request on the shared store
(benchmarks/README.md). Each caller still gets its own reply, or its own error.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import hiredis
from redis.asyncio.client import Redis
from redis.asyncio.connection import Connection
from redis.commands.core import AsyncScript
from redis.exceptions import DataError, NoScriptError, RedisError

from vivi_emulator import metrics


class HiredisPackedConnection(Connection):
    """redis-py's asyncio connection, packing commands with hiredis' C packer.

    redis-py's synchronous client does so (``HiredisRespSerializer``); its asyncio one packs in
    Python, argument by argument: measured, the largest single cost of a request on the
    shared store. Same bytes on the wire.
    """

    def pack_command(self, *args: Any) -> list[bytes]:
        # As redis-py does: a command name may hold literal arguments ("SCRIPT LOAD").
        if isinstance(args[0], str):
            args = tuple(args[0].encode().split()) + args[1:]
        elif b" " in args[0]:
            args = tuple(args[0].split()) + args[1:]
        try:
            return [hiredis.pack_command(args)]
        except TypeError as exc:
            raise DataError(str(exc)) from None


class ScriptBatcher:
    def __init__(self, redis: Redis, max_batch: int = 256) -> None:
        self._redis = redis
        self._max = max_batch
        self._pending: list[tuple[AsyncScript, tuple[Any, ...], asyncio.Future[Any]]] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def call(self, script: AsyncScript, *args: Any) -> Any:
        """Run ``script`` (keys computed inside it) with ``args``; its reply."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((script, args, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        while self._pending:
            batch, self._pending = self._pending[: self._max], self._pending[self._max :]
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._tasks.add(task)  # kept until done: a task with no reference may vanish
            task.add_done_callback(self._tasks.discard)

    async def _run(
        self, batch: list[tuple[AsyncScript, tuple[Any, ...], asyncio.Future[Any]]]
    ) -> None:
        try:
            sent = time.perf_counter()
            replies = await self._send(batch)
            metrics.round_trip(time.perf_counter() - sent)
        except (RedisError, OSError) as exc:
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except asyncio.CancelledError:
            for _, _, future in batch:
                future.cancel()
            raise
        for (_, _, future), reply in zip(batch, replies, strict=True):
            if future.done():  # its caller went away (a client hung up)
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _send(
        self, batch: list[tuple[AsyncScript, tuple[Any, ...], asyncio.Future[Any]]]
    ) -> list[Any]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for script, args, _ in batch:
                pipe.evalsha(script.sha, 0, *args)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        if any(isinstance(r, NoScriptError) for r in replies):
            # A Redis that restarted or flushed its scripts: load them, then run again.
            for script in {id(s): s for s, _, _ in batch}.values():
                await self._redis.script_load(script.script)
            async with self._redis.pipeline(transaction=False) as pipe:
                for script, args, _ in batch:
                    pipe.evalsha(script.sha, 0, *args)
                replies = await pipe.execute(raise_on_error=False)
        return replies
