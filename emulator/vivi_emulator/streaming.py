"""An ASGI response that plays a Script's events as SSE frames, each at its time.

Written directly against ASGI rather than with sse-starlette or Starlette's StreamingResponse:
frames are pre-encoded bytes, events due at the same instant leave in one write, and a stream
with delays watches for the client hanging up so that a stalled stream stops at once instead of
sleeping on for nobody (docs/decisions.md, "streaming").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence

import anyio
from starlette.types import Message, Receive, Scope, Send

from vivi_emulator.rendering import Played, Rendered, Write, writes_of
from vivi_emulator.scenarios.script import Script

STREAM_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    # Never cached, never buffered by a proxy (nginx honours X-Accel-Buffering), never compressed.
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
)


def encoded(script: Script) -> list[Write]:
    """The writes of a script without wire options (``rendering.writes_of``)."""
    return writes_of(script)


_UNFINISHED = "ASGI callable returned without completing response."


class _QuietAborts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _UNFINISHED


def quiet_aborts() -> None:
    """Keep scripted connection drops out of uvicorn's error log: they are not errors here.

    Only EventStream leaves a response unfinished, and only for the `disconnect` fault; granian
    closes such a connection silently.
    """
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietAborts) for f in logger.filters):
        logger.addFilter(_QuietAborts())


class EventStream:
    """Plays ``script`` as an ``text/event-stream`` response with ``headers`` (the stream's own,
    ``STREAM_HEADERS``, with a scenario's in place of those of the same name)."""

    def __init__(
        self,
        script: Script | Rendered,
        headers: Sequence[tuple[bytes, bytes]] = STREAM_HEADERS,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_finish: Callable[[Played], Awaitable[None]] | None = None,
    ) -> None:
        rendered = script if isinstance(script, Rendered) else Rendered(script)
        self.script = rendered.script
        self._sleep = sleep
        self._clock = clock
        self._on_finish = on_finish
        self.headers = list(headers)
        # Without wire options, the docs' framing; with them, the writes the options ask for.
        self.batches, self.abort, self.linger = rendered.writes, rendered.abort, rendered.linger
        self.timed = rendered.timed
        self.played = Played(rendered)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if self.timed:
                await self._timed(receive, send)
            else:
                await self._play(send)
        finally:
            if not self.played.finished:
                # The client left (or the server is stopping): the stream ends here.
                self.played.client_left = True
                with anyio.CancelScope(shield=True):
                    await self._finish()

    async def _finish(self) -> None:
        """Tell the owner once how the stream ended, before the body's end goes out (so a
        client that saw the end and asks the journal at once finds the stream there)."""
        if self.played.finished:
            return
        self.played.finished = True
        if self._on_finish is not None:
            await self._on_finish(self.played)

    async def _play(self, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.headers})
            # Each event is due at a time fixed from the start (the sum of the delays before
            # it), so a late wake-up delays one event, and lateness never adds up over a stream.
            due = self._clock()
            played = self.played
            for delay, chunk, _ in self.batches:
                if delay > 0:
                    due += delay
                    wait = due - self._clock()
                    if wait > 0:
                        await self._sleep(wait)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                played.sent += 1
            if self.abort and self.linger > 0:
                await self._sleep(self.linger)  # an idle cut: the silence passes first
            await self._finish()
            if self.abort:
                # The `disconnect` fault (and the wire's cuts): return without finishing the
                # body. ASGI servers then close the connection, and the client sees the stream
                # cut mid-way.
                return
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
