"""Local stand-ins for a VIVI deployment, served by uvicorn in a thread on a loopback port.

``drifting_app`` breaks the contract three ways, each a drift the report must name:

- its stream events are not VIVI events (``{"text": ...}``: no ``message``, no ``event``);
- a missing or unknown key gets 400, where the contract says 401;
- its invoke answer has no ``threadId``.

``endless_app`` streams valid events for ever (and refuses a bad key with 401); ``bad_middle_app``
streams ``BAD_AT`` valid events, one bad one, then valid ones for ever; ``unending_event_app``
sends one event's ``data:`` line for ever, never its end; ``silent_app`` starts a stream and
sends nothing more; ``Counting`` wraps an app to note when
requests come.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import anyio
import anyio.lowlevel
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.server import free_port

STANDIN_CHANNEL = "standin-channel"
STANDIN_KEY = "standin-key-7f3c9a1e5b"


def _error(status: int, detail: str) -> Response:
    return Response(json.dumps({"detail": detail}), status, media_type="application/json")


async def _message(
    request: Request, bad_key: int = 400
) -> tuple[dict[str, object], Response | None]:
    if request.headers.get("vivi-api-key") != STANDIN_KEY:
        return {}, _error(bad_key, "bad key")
    try:
        body = json.loads(await request.body())
    except ValueError:
        return {}, _error(422, "invalid JSON")
    valid = (
        isinstance(body, dict)
        and isinstance(body.get("message"), str)
        and bool(body["message"])
        and isinstance(body.get("threadId"), str)
    )
    if not valid:
        return {}, _error(422, "invalid body")
    return body, None


async def _drifting_stream(request: Request) -> Response:
    _, error = await _message(request)
    if error is not None:
        return error
    frames = b'data: {"text": "Hello"}\n\ndata: {"text": "there"}\n\n'
    return Response(frames, media_type="text/event-stream", headers={"cache-control": "no-cache"})


async def _drifting_invoke(request: Request) -> Response:
    _, error = await _message(request)
    if error is not None:
        return error
    return Response(json.dumps({"message": "Hello there"}), media_type="application/json")


drifting_app = Starlette(
    routes=[
        Route("/channelsApi/{channelId}/stream", _drifting_stream, methods=["POST"]),
        Route("/channelsApi/{channelId}/invoke", _drifting_invoke, methods=["POST"]),
    ]
)


async def _endless_stream(request: Request) -> Response:
    _, error = await _message(request, bad_key=401)
    if error is not None:
        return error

    async def events() -> AsyncIterator[bytes]:
        yield b'data: {"message": "", "event": "on_chat_model_start"}\n\n'
        while True:
            await anyio.sleep(0.01)
            yield b'data: {"message": "more ", "event": "on_chat_model_stream"}\n\n'

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"cache-control": "no-cache"}
    )


endless_app = Starlette(
    routes=[Route("/channelsApi/{channelId}/stream", _endless_stream, methods=["POST"])]
)

BAD_AT = 150
BAD_EVENT = b'data: {"message": "oops", "event": "chat model stream"}\n\n'
_GOOD = b'data: {"message": "more ", "event": "on_chat_model_stream"}\n\n'


def _streaming(events: Callable[[], AsyncIterator[bytes]]) -> Route:
    async def stream(request: Request) -> Response:
        _, error = await _message(request, bad_key=401)
        if error is not None:
            return error
        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"cache-control": "no-cache"}
        )

    return Route("/channelsApi/{channelId}/stream", stream, methods=["POST"])


async def _bad_in_the_middle() -> AsyncIterator[bytes]:
    yield b'data: {"message": "", "event": "on_chat_model_start"}\n\n'
    for index in range(1, BAD_AT):
        # Events cut across writes, as a real stream may be.
        yield _GOOD[:20]
        yield _GOOD[20:] if index % 10 else _GOOD[20:] + b": keep-alive\n\n"
    yield BAD_EVENT
    while True:  # never ends: only a check that reads as the events come can report
        await anyio.sleep(0.01)
        yield _GOOD


async def _unending_event() -> AsyncIterator[bytes]:
    yield b'data: {"message": "'
    while True:
        await anyio.lowlevel.checkpoint()
        yield b"x" * 4096


async def _silent() -> AsyncIterator[bytes]:
    yield b'data: {"message": "", "event": "on_chat_model_start"}\n\n'
    await anyio.sleep_forever()
    yield b""  # never reached: a generator's type


bad_middle_app = Starlette(routes=[_streaming(_bad_in_the_middle)])
silent_app = Starlette(routes=[_streaming(_silent)])
unending_event_app = Starlette(routes=[_streaming(_unending_event)])


@dataclass
class Counting:
    """An app that notes when each request came."""

    app: ASGIApp
    times: list[float] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.times.append(time.monotonic())
        await self.app(scope, receive, send)


@contextmanager
def serve(app: ASGIApp | Callable[[Scope, Receive, Send], Awaitable[None]]) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="error", lifespan="auto", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the stand-in did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
