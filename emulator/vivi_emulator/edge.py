"""The edge of the app: the one outer layer every request passes through.

No exception gets past it: a bug (never the client's fault) is logged as one line, its type and
where (not the request's headers, which hold the key), and answered with a JSON 500 when no
answer has started, else the connection just ends. Servers print a full traceback for anything
an application raises, and an emulator's log must stay readable. It also writes each request's
access line (``access_log``): one layer, one wrapper around ``send``, on the hot path.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vivi_emulator.access_log import log_access, printable
from vivi_emulator.drain import BodyDrain
from vivi_emulator.errors import internal_error

_log = logging.getLogger("vivi_emulator.errors")


class Edge:
    def __init__(self, app: ASGIApp, access_log: bool = True, drain_bytes: int = 0) -> None:
        self.app = app
        self.access_log = access_log
        # The most of an unread body read before an answer starts (drain.py).
        self.drain_bytes = drain_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)  # a failed start-up is the server's to see
            return
        started = time.perf_counter()
        status = 0
        body = BodyDrain(scope, receive, self.drain_bytes)
        receive = body.receive

        async def noted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if not body.ended:
                    await body.drain()  # else granian may reset the connection (drain.py)
            await send(message)

        try:
            await self.app(scope, receive, noted)
        except Exception as exc:
            _log.error(
                "unexpected %s on %s %s",
                type(exc).__name__,
                scope.get("method", "-"),
                printable(scope.get("path", "-")),
            )
            if not status and scope["type"] == "http":
                try:
                    await internal_error()(scope, receive, noted)
                except Exception:  # the client is gone too: nothing more to do
                    status = 0
        finally:
            if self.access_log and scope["type"] == "http":
                log_access(scope, status, started)
