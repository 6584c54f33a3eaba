"""A raw ASGI app, no framework: the same bytes as ``bare_app.py`` (invoke and stream, no
delays), answered straight from the ASGI messages. What one Python worker does under ASGI's
per-message dicts and nothing else (benchmarks/README.md, "the physical limit")."""

from typing import Any

from reply_bytes import FRAMES, INVOKE

_INVOKE_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(INVOKE))]
_STREAM_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8")]


async def _read_body(receive: Any) -> None:
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":  # lifespan: nothing to set up
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
        return
    await _read_body(receive)
    if scope["path"].endswith("/invoke"):
        await send({"type": "http.response.start", "status": 200, "headers": _INVOKE_HEADERS})
        await send({"type": "http.response.body", "body": INVOKE})
        return
    await send({"type": "http.response.start", "status": 200, "headers": _STREAM_HEADERS})
    for frame in FRAMES:
        await send({"type": "http.response.body", "body": frame, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
