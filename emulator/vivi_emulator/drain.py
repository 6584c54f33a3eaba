"""The rest of a request's body, read and thrown away before its answer starts.

A request refused before its body is read (a wrong key, an unknown channel, the store
unavailable, the guard's 403) leaves the body's rest in the socket. granian (hyper) then tries
one non-blocking read of it and, finding more on the way, closes the connection after the answer
(hyper's ``Conn::poll_drain_or_close_read``). Closing a socket with unread bytes in its receive
buffer makes the kernel send a reset instead of a clean end, and the reset can overtake the
answer: the client gets ``connection reset`` instead of its 401 (8 concurrent uploads of 200 KB
on a kept-alive connection: most of them). uvicorn reads ahead into its own buffer, so it rarely
shows, but the same holds there.

So before an answer starts, the body's rest is read and dropped (never kept: it costs no
memory), up to ``limit`` bytes (the largest body the emulator accepts at all) and
``caps.DRAIN_SECONDS``. A body declared larger is not drained: the client gets its answer when
the connection's timing allows, as from any server refusing more than it would ever read.
"""

from __future__ import annotations

import anyio
from starlette.types import Message, Receive, Scope

from vivi_emulator.caps import DRAIN_SECONDS


class BodyDrain:
    """A request's ``receive``, remembering whether the body has ended, and able to read the rest
    of it (``drain``)."""

    __slots__ = (
        "_declared",
        "_expects_continue",
        "_limit",
        "_read",
        "_receive",
        "_started",
        "ended",
    )

    def __init__(self, scope: Scope, receive: Receive, limit: int) -> None:
        self._receive = receive
        self._limit = limit
        self._read = 0
        self._started = False
        self._declared: int | None = None
        # A client that sent ``Expect: 100-continue`` sends its body only once the server reads
        # it: refused before that, nothing of it is on the way, and reading it would ask for it.
        self._expects_continue = False
        chunked = False
        for name, value in scope["headers"]:  # one pass: every request comes this way
            if name == b"content-length":
                self._declared = int(value) if value.isdigit() else None
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"expect":
                self._expects_continue = value.lower() == b"100-continue"
        self.ended = not chunked and not self._declared

    async def receive(self) -> Message:
        self._started = True
        message = await self._receive()
        self._note(message)
        return message

    def _note(self, message: Message) -> None:
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            self.ended = True
        self._read += len(message.get("body", b""))

    async def drain(self) -> None:
        """Read the body's rest, if it has any and fits the bounds."""
        if self.ended or (self._declared is not None and self._declared > self._limit):
            return
        if self._expects_continue and not self._started:
            return
        with anyio.move_on_after(DRAIN_SECONDS):
            while not self.ended and self._read <= self._limit:
                self._note(await self._receive())
