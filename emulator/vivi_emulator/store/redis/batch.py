"""Auto-pipelining: the hot Lua steps issued within one turn of the event loop go to Redis as
one pipeline.

Under load a worker has dozens of requests in flight; sent one by one, each step pays
redis-py's whole per-command path (a pooled connection, a write, a timed read). Gathered, they
share one write and one connection, which is most of the cost of a request on the shared store
(benchmarks/README.md). Each caller still gets its own reply, or its own error.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
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


# What to do with a reply whose caller went away meanwhile (a step that opened something its
# caller will never close, such as a turn): run as a task of its own.
Undo = Callable[[Any], Awaitable[Any]]


@dataclass(slots=True)
class _Call:
    script: AsyncScript
    args: tuple[Any, ...]
    future: asyncio.Future[Any]
    undo: Undo | None


class ScriptBatcher:
    """Sends the Lua steps called within one turn of the event loop as one pipeline.

    Every caller is answered on every path: its reply, its own error, or the error that failed
    the whole batch (whatever it is: a caller must never wait forever). A step whose script
    Redis no longer has (NOSCRIPT: it restarted or flushed its scripts) is sent again alone
    after the scripts are loaded, never the steps that already ran. A caller cancelled while
    its step is in flight has the step's ``undo`` run on its reply.
    """

    def __init__(self, redis: Redis, max_batch: int = 256) -> None:
        self._redis = redis
        self._max = max_batch
        self._pending: list[_Call] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task[Any]] = set()

    async def call(self, script: AsyncScript, *args: Any, undo: Undo | None = None) -> Any:
        """Run ``script`` (keys computed inside it) with ``args``; its reply."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append(_Call(script, args, future, undo))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        while self._pending:
            batch, self._pending = self._pending[: self._max], self._pending[self._max :]
            self._spawn(self._run(batch))

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)  # kept until done: a task with no reference may vanish
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[_Call]) -> None:
        try:
            sent = time.perf_counter()
            replies = await self._send(batch)
            metrics.round_trip(time.perf_counter() - sent)
        except asyncio.CancelledError:
            for call in batch:
                call.future.cancel()
            raise
        except Exception as exc:  # any failure: every caller hears of it
            for call in batch:
                if not call.future.done():
                    call.future.set_exception(exc)
            return
        for call, reply in zip(batch, replies, strict=True):
            if call.future.done():  # its caller went away (a client hung up, a cancellation)
                if call.undo is not None and not isinstance(reply, Exception):
                    self._spawn(_quietly(call.undo(reply)))
                continue
            if isinstance(reply, Exception):
                call.future.set_exception(reply)
            else:
                call.future.set_result(reply)

    async def _send(self, batch: list[_Call]) -> list[Any]:
        replies = await self._pipelined(batch)
        missing = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
        if missing:
            # A Redis that restarted or flushed its scripts: load them, then run again only
            # the steps that did not run (the others did, and must not run twice).
            for script in {id(batch[i].script): batch[i].script for i in missing}.values():
                await self._redis.script_load(script.script)
            again = await self._pipelined([batch[i] for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        return replies

    async def _pipelined(self, calls: list[_Call]) -> list[Any]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for call in calls:
                pipe.evalsha(call.script.sha, 0, *call.args)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies


async def _quietly(work: Awaitable[Any]) -> None:
    """An undo's outcome: nobody waits for it; a store that fails it is a later request's 503."""
    with contextlib.suppress(RedisError, OSError):
        await work
