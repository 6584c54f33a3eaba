"""A raw RSGI app (granian's native interface), no framework: the same bytes as
``bare_app.py`` (invoke and stream, no delays). The physical limit of one Python worker here:
no per-message dicts, the body read in one call, one call per write
(benchmarks/README.md, "the physical limit")."""

from typing import Any

from reply_bytes import FRAMES, INVOKE

_INVOKE_HEADERS = [("content-type", "application/json")]
_STREAM_HEADERS = [("content-type", "text/event-stream; charset=utf-8")]


async def app(scope: Any, protocol: Any) -> None:
    await protocol()
    if scope.path.endswith("/invoke"):
        protocol.response_bytes(200, _INVOKE_HEADERS, INVOKE)
        return
    transport = protocol.response_stream(200, _STREAM_HEADERS)
    for frame in FRAMES:
        await transport.send_bytes(frame)
