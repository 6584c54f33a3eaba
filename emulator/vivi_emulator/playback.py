"""Playing a rendered Script: each write at its time, knowing nothing of ASGI or RSGI.

A server adapter gives the writer (how bytes reach its client) and the hang-up watch (what
returns once the client has left); this plays the writes on the schedule the script asks for,
tells the owner once how the stream went (before the body's end goes out, so a client that saw
the end and asks the journal at once finds the stream there), and says whether the adapter
should end the body or cut the connection.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio

from vivi_emulator import metrics
from vivi_emulator.rendering import Played, Rendered

Write = Callable[[bytes], Awaitable[None]]

# The headers of every stream (a scenario may lay its own over them).
STREAM_HEADERS: list[tuple[str, str]] = [
    ("content-type", "text/event-stream; charset=utf-8"),
    # Never cached, never buffered by a proxy (nginx honours X-Accel-Buffering), never compressed.
    ("cache-control", "no-cache"),
    ("x-accel-buffering", "no"),
]
Gone = Callable[[], Awaitable[object]]


class Playback:
    """The timed writes of one stream (``rendered``), and whom to tell when it ends."""

    __slots__ = ("_clock", "_on_finish", "_sleep", "played", "rendered")

    def __init__(
        self,
        rendered: Rendered,
        on_finish: Callable[[Played], Awaitable[None]] | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rendered = rendered
        self._on_finish = on_finish
        self._sleep = sleep
        self._clock = clock
        self.played = Played(rendered)

    @property
    def abort(self) -> bool:
        """Cut the connection at the end instead of ending the body (a fault, a wire cut)."""
        return self.rendered.abort

    async def run(
        self, write: Write, gone: Gone, closed: tuple[type[BaseException], ...] = (OSError,)
    ) -> None:
        """Play every write (``closed``: what ``write`` raises once the client has left). A
        stream with delays also watches ``gone``, so a stalled stream stops as soon as its
        client leaves instead of sleeping on for nobody."""
        metrics.stream_opened()
        try:
            if self.rendered.timed:
                async with anyio.create_task_group() as tasks:

                    async def watch() -> None:
                        await gone()
                        tasks.cancel_scope.cancel()

                    tasks.start_soon(watch)
                    await self._play(write, closed)
                    tasks.cancel_scope.cancel()
            else:
                await self._play(write, closed)
        finally:
            if not self.played.finished:
                # The client left (or the server is stopping): the stream ends here.
                self.played.client_left = True
                with anyio.CancelScope(shield=True):
                    await self._finish()
            metrics.stream_closed()

    async def _finish(self) -> None:
        if self.played.finished:
            return
        self.played.finished = True
        if self._on_finish is not None:
            await self._on_finish(self.played)

    async def _play(self, write: Write, closed: tuple[type[BaseException], ...]) -> None:
        played = self.played
        rendered = self.rendered
        try:
            # Each write is due at a time fixed from the start (the sum of the delays before
            # it), so a late wake-up delays one write, and lateness never adds up.
            due = self._clock()
            for delay, chunk, _ in rendered.writes:
                if delay > 0:
                    due += delay
                    wait = due - self._clock()
                    if wait > 0:
                        await self._sleep(wait)
                    # Every timed write counts, the ones already late when their turn came
                    # (no sleep) above all.
                    metrics.late(self._clock() - due)
                await write(chunk)
                if played.first_byte is None:
                    played.first_byte = self._clock()
                played.sent += 1
            if rendered.abort and rendered.linger > 0:
                await self._sleep(rendered.linger)  # an idle cut: the silence passes first
            await self._finish()
        except closed:
            return  # the client hung up: nothing to answer, nothing to log
