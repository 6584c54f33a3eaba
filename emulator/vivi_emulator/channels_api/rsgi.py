"""The VIVI core over RSGI, granian's native interface (``serve --interface rsgi``).

RSGI skips ASGI's per-message dicts: the body arrives in one call, an answer is one call, each
write of a stream one call. The VIVI operations go to the core; every other request (the
control API, the pages) is handed to the ASGI app through a small bridge (``_asgi``), and the
ASGI app's lifespan (the store, the fixture watcher) runs from granian's worker start and stop
hooks (``__rsgi_init__``, ``__rsgi_del__``).

One thing RSGI cannot do: cut a response mid-body. Its stream always ends cleanly, so a script
that asks for a cut (the ``disconnect`` fault, the ``chunked-cut`` and ``idle-cut`` wire
presets) ends its body after its last write instead; the ASGI interface (the default) cuts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any

import anyio
from starlette.types import ASGIApp, Message

from vivi_emulator.caps import DRAIN_SECONDS
from vivi_emulator.channels_api.body import cut_short, over_limit, read_all
from vivi_emulator.channels_api.core import Core, Incoming
from vivi_emulator.errors import ApiError

# What granian raises when the client has gone (or its body was cut): RSGIProtocolClosed and
# RSGIProtocolError, both RuntimeErrors; imported lazily, so ASGI-only runs never load granian.
_GONE: tuple[type[BaseException], ...] = (RuntimeError, OSError)


class RsgiPeer:
    """The client of one RSGI request: its body from the protocol, its hang-up."""

    __slots__ = ("declared", "proto", "started")

    def __init__(self, proto: Any, declared: bool) -> None:
        self.proto = proto
        self.declared = declared
        self.started = False  # the body's reading began (it is then read to its end or cut)

    async def drain(self, headers: dict[str, str], limit: int) -> None:
        """Read the rest of a body no handler read, before the answer starts, within ``limit``
        bytes and ``caps.DRAIN_SECONDS`` (drain.py says why: hyper resets the connection)."""
        if self.started or headers.get("expect", "").lower() == "100-continue":
            return
        length = headers.get("content-length")
        if length is None:
            if "transfer-encoding" not in headers:
                return  # no body at all
        elif not length.isdigit() or not 0 < int(length) <= limit:
            return  # none, or declared larger than anything the emulator would read
        with anyio.move_on_after(DRAIN_SECONDS), contextlib.suppress(ApiError):
            async for _ in self.chunks(limit):
                pass

    async def body(self, limit: int) -> bytes:
        self.started = True
        if not self.declared:  # no length declared: read piece by piece, within the limit
            return await read_all(self.chunks(limit), limit)
        try:
            body: bytes = await self.proto()  # the declared length is within the limit
        except _GONE:
            raise cut_short() from None
        if len(body) > limit:
            raise over_limit(limit)
        return body

    async def chunks(self, limit: int) -> AsyncGenerator[bytes]:
        self.started = True
        size = 0
        empty = 0
        try:
            async for chunk in self.proto:
                if not chunk:
                    # granian's body iterator ends a body with one empty piece; a body it
                    # could not read to its end (a broken chunked encoding) gives more than
                    # one (measured, granian 2.x): that is a body cut short, a 400.
                    empty += 1
                    if empty > 1:
                        raise cut_short()
                    continue
                size += len(chunk)
                if size > limit:
                    raise over_limit(limit)
                yield chunk
        except _GONE:
            raise cut_short() from None

    async def gone(self) -> None:
        await self.proto.client_disconnect()


class RsgiAdapter:
    """An RSGI app: the VIVI operations by the core, everything else by the ASGI ``app``."""

    def __init__(self, core: Core, app: ASGIApp) -> None:
        self.core = core
        self.app = app
        self._lifespan: _Lifespan | None = None

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._lifespan = _Lifespan(self.app)
        loop.run_until_complete(self._lifespan.start())

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._lifespan is not None:
            loop.run_until_complete(self._lifespan.stop())

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        if scope.proto != "http":
            return
        route = self.core.route(scope.method, scope.path)
        if route is None:
            await _asgi(self.app, scope, proto)
            return
        headers = dict(scope.headers.items())
        peer = RsgiPeer(proto, "content-length" in headers)
        request = Incoming(
            scope.method,
            scope.path,
            headers,
            peer,
            scope.scheme,
            scope.server,
            scope.http_version,
        )
        route.incoming(request)
        status = 0
        try:
            out = await self.core.answer(request, route.handler)
            status = out.status
            if status:
                await peer.drain(headers, self.core.drain_bytes)
            if out.stream is not None:
                transport = proto.response_stream(status, out.headers)
                await out.stream.run(transport.send_bytes, request.peer.gone, _GONE)
            elif status:
                proto.response_bytes(status, out.headers, out.body)
        except Exception as exc:  # a bug in writing (the answer itself never raises)
            self.core.bug(request.method, request.path, exc)
        finally:
            self.core.log(request, status)


class _Lifespan:
    """The ASGI app's lifespan, run as a task of the worker's loop from start to stop."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._messages: asyncio.Queue[Message] = asyncio.Queue()
        self._started: asyncio.Future[None] | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._started, self._stopped = loop.create_future(), loop.create_future()
        self._task = loop.create_task(self._run())
        await self._messages.put({"type": "lifespan.startup"})
        await self._started

    async def stop(self) -> None:
        await self._messages.put({"type": "lifespan.shutdown"})
        if self._stopped is not None and self._task is not None:
            # Whichever comes first: the app's word that it stopped, or its lifespan ending
            # (a lifespan that failed says nothing more: do not wait for it).
            await asyncio.wait({self._stopped, self._task}, return_when=asyncio.FIRST_COMPLETED)

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.3"}}
        await self.app(scope, self._messages.get, self._send)

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind.startswith("lifespan.startup") and self._started is not None:
            if kind.endswith("failed"):
                self._started.set_exception(RuntimeError(message.get("message", "start failed")))
            else:
                self._started.set_result(None)
        elif kind.startswith("lifespan.shutdown") and self._stopped is not None:
            self._stopped.set_result(None)


def _address(text: str) -> tuple[str, int] | None:
    host, _, port = text.rpartition(":")
    return (host, int(port)) if port.isdigit() else None


async def _asgi(app: ASGIApp, scope: Any, proto: Any) -> None:
    """One request handed to the ASGI app: the body in one message, the answer in one call (or
    a stream of writes)."""
    asgi_scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": scope.http_version,
        "method": scope.method,
        "scheme": scope.scheme,
        "path": scope.path,
        "raw_path": scope.path.encode("utf-8"),
        "query_string": scope.query_string.encode("latin-1"),
        "root_path": "",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in scope.headers.items()],
        "client": _address(scope.client),
        "server": _address(scope.server),
    }
    bridge = _Bridge(proto)
    await app(asgi_scope, bridge.receive, bridge.send)


class _Bridge:
    """ASGI's ``receive`` and ``send`` over one RSGI protocol object."""

    __slots__ = ("_body_read", "_headers", "_proto", "_status", "_transport")

    def __init__(self, proto: Any) -> None:
        self._proto = proto
        self._body_read = False
        self._status = 200
        self._headers: list[tuple[str, str]] = []
        self._transport: Any = None

    async def receive(self) -> Message:
        if not self._body_read:
            self._body_read = True
            try:
                body = await self._proto()
            except _GONE:
                return {"type": "http.disconnect"}
            return {"type": "http.request", "body": body, "more_body": False}
        await self._proto.client_disconnect()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._status = message["status"]
            self._headers = [
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])
            ]
            return
        if message["type"] != "http.response.body":
            return
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        if self._transport is None:
            if not more:
                self._proto.response_bytes(self._status, self._headers, body)
                return
            self._transport = self._proto.response_stream(self._status, self._headers)
        if body:
            await self._transport.send_bytes(body)
