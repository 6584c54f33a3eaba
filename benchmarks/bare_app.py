"""The floor: the least a Starlette app can do for invoke and stream (see benchmarks/README.md)."""

import asyncio
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

# Byte for byte the emulator's default reply to {"message": "hello", ...} (with --latency none):
# 18 SSE frames, one LLM-like token each.
REPLY = b"Hello! I am the VIVI emulator. How can I help you today?"
THREAD = b"0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"
INVOKE = b'{"message": "%s", "threadId": "%s"}' % (REPLY, THREAD)
TOKENS = [
    b"Hello", b"!", b" I", b" am", b" the", b" VIVI", b" emul", b"ator", b".",
    b" How", b" can", b" I", b" help", b" you", b" today", b"?",
]  # fmt: skip
assert b"".join(TOKENS) == REPLY
FRAMES = [b'data: {"message": "", "event": "on_chat_model_start"}\n\n']
FRAMES += [b'data: {"message": "%s", "event": "on_chat_model_stream"}\n\n' % t for t in TOKENS]
FRAMES += [b'data: {"message": "", "event": "on_chat_model_end"}\n\n']
SCRIPTED = [
    b'data: {"message": "t%02d", "event": "on_chat_model_stream"}\n\n' % i for i in range(20)
]


# The scenarios of benchmarks/fixtures, by name: seconds between two of their 20 events.
INTERVALS = {"bench-delayed": 0.05, "bench-long": 0.25}


async def frames(interval: float | None) -> AsyncIterator[bytes]:
    if interval is None:  # an async generator: a sync iterator would go through the thread pool
        for frame in FRAMES:
            yield frame
        return
    # The delayed-streams workloads: 20 events, each on its schedule (no drift).
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i, frame in enumerate(SCRIPTED):
        await asyncio.sleep(max(0.0, start + i * interval - loop.time()))
        yield frame


async def invoke(request: Request) -> Response:
    await request.body()
    return Response(INVOKE, media_type="application/json")


async def stream(request: Request) -> Response:
    await request.body()
    scenario = request.headers.get("x-vivi-scenario")
    interval = None if scenario is None else INTERVALS.get(scenario, 0.05)
    return StreamingResponse(frames(interval), media_type="text/event-stream")


app = Starlette(
    routes=[
        Route("/channelsApi/{channel}/invoke", invoke, methods=["POST"]),
        Route("/channelsApi/{channel}/stream", stream, methods=["POST"]),
    ]
)
