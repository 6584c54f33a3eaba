"""An ASGI response that plays a Script's events as SSE frames, each at its time.

Written directly against ASGI rather than with sse-starlette or Starlette's StreamingResponse:
frames are pre-encoded bytes, events due at the same instant leave in one write, and a stream
with delays watches for the client hanging up so that a stalled stream stops at once instead of
sleeping on for nobody (docs/decisions.md, "streaming").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field

import anyio
from starlette.types import Message, Receive, Scope, Send

from vivi_emulator import metrics
from vivi_emulator.scenarios.script import Script, ScriptEvent
from vivi_emulator.sse import frame
from vivi_emulator.wire.plan import Plan, plan

STREAM_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    # Never cached, never buffered by a proxy (nginx honours X-Accel-Buffering), never compressed.
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
)


# (delay, bytes, the events as the journal shows them)
_Batch = tuple[float, bytes, list[dict[str, str]]]


def _batches(script: Script) -> Iterator[_Batch]:
    """Each run of events due at the same time, joined into one write."""
    pending: list[ScriptEvent] = []
    for event in script.events:
        if event.delay > 0 and pending:
            yield _batch(pending)
            pending = []
        pending.append(event)
    if pending:
        yield _batch(pending)


def _batch(events: list[ScriptEvent]) -> _Batch:
    return events[0].delay, b"".join(frame(e) for e in events), journal_events(tuple(events))


def encoded(script: Script) -> list[_Batch]:
    """The script's writes, encoded once per script (a constant script is shared by requests)."""
    batches: list[_Batch] | None = script.encoded
    if batches is None:
        batches = list(_batches(script))
        object.__setattr__(script, "encoded", batches)
    return batches


def wire_plan(script: Script) -> Plan:
    """The writes of a script with wire options (vivi_emulator.wire), made once per script."""
    made: Plan | None = script.encoded
    if made is None:
        made = plan(script)
        object.__setattr__(script, "encoded", made)
    return made


def journal_events(events: tuple[ScriptEvent, ...]) -> list[dict[str, str]]:
    return [
        {"raw": e.raw.decode("utf-8", "replace")}
        if e.raw is not None
        else {"message": e.message, "event": e.event}
        for e in events
    ]


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


@dataclass(slots=True)
class Played:
    """How a stream went: the events sent, when the first left (the HAR export's wait), and
    whether the client left before its end. A stream with wire options also keeps its bytes:
    only there do they differ from the events' own frames (the HAR export's body)."""

    events: list[dict[str, str]] = field(default_factory=list)
    client_left: bool = False
    finished: bool = False
    sent: list[bytes] | None = None  # the writes, when wire options shaped them
    first_byte: float | None = None  # time.monotonic()


class EventStream:
    """Plays ``script`` as an ``text/event-stream`` response with ``headers`` (the stream's own,
    ``STREAM_HEADERS``, with a scenario's in place of those of the same name)."""

    def __init__(
        self,
        script: Script,
        headers: Sequence[tuple[bytes, bytes]] = STREAM_HEADERS,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_finish: Callable[[Played], Awaitable[None]] | None = None,
    ) -> None:
        self.script = script
        self._sleep = sleep
        self._clock = clock
        self._on_finish = on_finish
        self.headers = list(headers)
        # Without wire options, the docs' framing; with them, the writes the options ask for.
        self.abort = script.abort
        self.linger = 0.0
        if script.wire is None:
            self.batches = encoded(script)
        else:
            wired = wire_plan(script)
            self.batches, self.abort, self.linger = wired.writes, wired.abort, wired.linger
        self.played = Played(sent=[] if script.wire is not None else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics.stream_opened()
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
            metrics.stream_closed()

    async def _finish(self) -> None:
        """Tell the owner once how the stream ended, before the body's end goes out (so a
        client that saw the end and asks the journal at once finds the stream there)."""
        if self.played.finished:
            return
        self.played.finished = True
        if self._on_finish is not None:
            await self._on_finish(self.played)

    @property
    def timed(self) -> bool:
        return self.linger > 0 or any(delay > 0 for delay, _, _ in self.batches)

    async def _play(self, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.headers})
            # Each event is due at a time fixed from the start (the sum of the delays before
            # it), so a late wake-up delays one event, and lateness never adds up over a stream.
            due = self._clock()
            played = self.played
            for delay, chunk, events in self.batches:
                if delay > 0:
                    due += delay
                    wait = due - self._clock()
                    if wait > 0:
                        await self._sleep(wait)
                        metrics.late(self._clock() - due)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                if played.first_byte is None:
                    played.first_byte = self._clock()
                if played.sent is not None:
                    played.sent.append(chunk)
                played.events.extend(events)
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
