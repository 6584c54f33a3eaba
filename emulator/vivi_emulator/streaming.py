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
from starlette.types import Receive, Scope, Send

from vivi_emulator.playback import STREAM_HEADERS as STREAM_HEADER_TEXT
from vivi_emulator.playback import Playback
from vivi_emulator.rendering import Played, Rendered, Write, writes_of
from vivi_emulator.script import Script

# The stream's headers as ASGI writes them.
STREAM_HEADERS: tuple[tuple[bytes, bytes], ...] = tuple(
    (name.encode("latin-1"), value.encode("latin-1")) for name, value in STREAM_HEADER_TEXT
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
    """Plays ``script`` as an ``text/event-stream`` ASGI response with ``headers`` (the
    stream's own, ``STREAM_HEADERS``, with a scenario's in place of those of the same name):
    the ASGI side of ``playback.Playback``."""

    def __init__(
        self,
        script: Script | Rendered,
        headers: Sequence[tuple[bytes, bytes]] = STREAM_HEADERS,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_finish: Callable[[Played], Awaitable[None]] | None = None,
    ) -> None:
        rendered = script if isinstance(script, Rendered) else Rendered(script)
        self.playback = Playback(rendered, on_finish, sleep, clock)
        self.script = rendered.script
        self.headers = list(headers)
        # Without wire options, the docs' framing; with them, the writes the options ask for.
        self.batches, self.abort, self.linger = rendered.writes, rendered.abort, rendered.linger
        self.timed = rendered.timed

    @property
    def played(self) -> Played:
        return self.playback.played

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await play_asgi(self.playback, self.headers, receive, send)


async def play_asgi(
    playback: Playback, headers: list[tuple[bytes, bytes]], receive: Receive, send: Send
) -> None:
    """A stream's response over ASGI: its start, its writes on time, and its end (or, for a
    cut, no end: the server then closes the connection, and the client sees the body cut)."""

    async def write(chunk: bytes) -> None:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def gone() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
    except OSError:
        await playback.run(_nowhere, gone)  # the client left before the start: no writes
        return
    await playback.run(write, gone)
    if playback.played.client_left or playback.abort:
        return
    try:
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError:
        return  # the client hung up: nothing to answer, nothing to log


async def _nowhere(_: bytes) -> None:
    raise ConnectionResetError
