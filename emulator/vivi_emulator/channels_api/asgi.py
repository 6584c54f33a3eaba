"""The VIVI core over ASGI (uvicorn, granian's ASGI interface, in-process test clients).

Thin: the request's scope and its ``receive`` become an ``Incoming`` (the headers decoded once),
the core's ``Outgoing`` becomes ASGI messages. Every other request (the control API, the pages,
a wrong method) goes to the ASGI app behind (``app``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from starlette.types import ASGIApp, Receive, Scope, Send

from vivi_emulator.channels_api.body import cut_short, over_limit
from vivi_emulator.channels_api.core import Core, Incoming, Outgoing
from vivi_emulator.drain import BodyDrain
from vivi_emulator.streaming import play_asgi


class AsgiPeer:
    """The client of one ASGI request: its body from ``receive``, its hang-up."""

    __slots__ = ("receive",)

    def __init__(self, receive: Receive) -> None:
        self.receive = receive

    async def body(self, limit: int) -> bytes:
        message = await self.receive()
        if message["type"] == "http.disconnect":
            raise cut_short()
        body: bytes = message.get("body", b"")
        if len(body) > limit:
            raise over_limit(limit)
        if not message.get("more_body", False):
            return body  # the common case: the whole body in one message
        parts = [body]
        size = len(body)
        async for chunk in self.chunks(limit - size):
            parts.append(chunk)
        return b"".join(parts)

    async def chunks(self, limit: int) -> AsyncGenerator[bytes]:
        size, more = 0, True
        while more:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise cut_short()
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise over_limit(limit)
            more = bool(message.get("more_body", False))
            yield chunk

    async def gone(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass


def _incoming(scope: Scope, receive: Receive) -> Incoming:
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    server = scope.get("server")
    return Incoming(
        scope["method"],
        scope["path"],
        headers,
        AsgiPeer(receive),
        scope.get("scheme", "http"),
        f"{server[0]}:{server[1]}" if server else "",
        scope.get("http_version", "1.1"),
    )


def _raw(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]


async def _write(out: Outgoing, receive: Receive, send: Send) -> None:
    if out.stream is not None:
        await play_asgi(out.stream, _raw(out.headers), receive, send)
        return
    await send({"type": "http.response.start", "status": out.status, "headers": _raw(out.headers)})
    await send({"type": "http.response.body", "body": out.body})


class AsgiAdapter:
    """An ASGI app: the VIVI operations by the core, everything else by ``app``."""

    def __init__(self, core: Core, app: ASGIApp) -> None:
        self.core = core
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = self.core.route(scope["method"], scope["path"])
        if route is None:
            await self.app(scope, receive, send)
            return
        body = BodyDrain(scope, receive, self.core.drain_bytes)
        receive = body.receive
        request = route.incoming(_incoming(scope, receive))
        status = 0
        try:
            out = await self.core.answer(request, route.handler)
            if out.status:
                status = out.status
                if not body.ended:
                    await body.drain()  # else granian may reset the connection (drain.py)
                await _write(out, receive, send)
        except Exception as exc:  # a bug in writing (the answer itself never raises)
            self.core.bug(request.method, request.path, exc)
        finally:
            self.core.log(request, status)
