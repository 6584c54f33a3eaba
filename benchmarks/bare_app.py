"""The floor: the least a Starlette app can do for invoke and stream (see benchmarks/README.md)."""

import asyncio
from collections.abc import AsyncIterator

# The same bytes as every reference app.
from reply_bytes import FRAMES, INVOKE, SCRIPTED
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

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
