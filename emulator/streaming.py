"""An ASGI response that plays a Script's events as SSE frames, each at its time.

Written directly against ASGI rather than with sse-starlette or Starlette's StreamingResponse:
frames are pre-encoded bytes, events due at the same instant leave in one write, and a stream
with delays watches for the client hanging up so that a stalled stream stops at once instead of
sleeping on for nobody (docs/decisions.md, "streaming").
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence

import anyio
from starlette.types import Message, Receive, Scope, Send

from emulator.scenarios.script import Script
from emulator.sse import frame

STREAM_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    # Never cached, never buffered by a proxy (nginx honours X-Accel-Buffering), never compressed.
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
)


def _batches(script: Script) -> Iterator[tuple[float, bytes]]:
    """(delay, bytes) pairs: each run of events due at the same time, joined into one write."""
    pending: list[bytes] = []
    delay = 0.0
    for event in script.events:
        if event.delay > 0 and pending:
            yield delay, b"".join(pending)
            pending = []
        if not pending:
            delay = event.delay
        pending.append(frame(event))
    if pending:
        yield delay, b"".join(pending)


class StreamAborted(Exception):
    """Raised to make the server drop the connection mid-body: the `disconnect` fault.

    ASGI has no message for "close without finishing"; an exception after the response has
    started is how a server is told. ``quiet_aborts`` keeps it out of the servers' error logs.
    """


class _QuietAborts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, StreamAborted):
                return False
            exc = exc.__cause__ or exc.__context__
        return True


def quiet_aborts() -> None:
    """Keep scripted aborts out of the ASGI servers' error logs (they are not errors)."""
    for name in ("uvicorn.error", "granian", "_granian", "granian.asgi"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _QuietAborts) for f in logger.filters):
            logger.addFilter(_QuietAborts())


class EventStream:
    """Plays ``script`` as an ``text/event-stream`` response."""

    def __init__(
        self,
        script: Script,
        extra_headers: Sequence[tuple[bytes, bytes]] = (),
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.script = script
        self._sleep = sleep
        self.headers = [*STREAM_HEADERS, *extra_headers]
        self.batches = list(_batches(script))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.timed:
            await self._timed(receive, send)
        else:
            await self._play(send)

    @property
    def timed(self) -> bool:
        return any(delay > 0 for delay, _ in self.batches)

    async def _play(self, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.headers})
            for delay, chunk in self.batches:
                if delay > 0:
                    await self._sleep(delay)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if self.script.abort:
                raise StreamAborted(self.script.scenario)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            # The client hung up: nothing to answer, nothing to log.
            return

    async def _timed(self, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as tasks:

            async def watch() -> None:
                while True:
                    message: Message = await receive()
                    if message["type"] == "http.disconnect":
                        tasks.cancel_scope.cancel()
                        return

            tasks.start_soon(watch)
            await self._play(send)
            tasks.cancel_scope.cancel()
