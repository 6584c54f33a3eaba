"""Values and helpers shared by the tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from vivi_emulator import sse
from vivi_emulator.app import create_app
from vivi_emulator.scenarios.context import RequestContext
from vivi_emulator.script import CHUNK, END, START, Script, ScriptEvent, split_words
from vivi_emulator.service import Emulator
from vivi_emulator.settings import Settings

from tests.server import Running, start

CHANNEL = "demo-channel"
KEY = "demo-key"
THREAD = "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"
OTHER_THREAD = "7d1c2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
AUTH = {"vivi-api-key": KEY}
# A message as the docs send it.
BODY = {"message": "hello", "threadId": THREAD}


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The emulator with these settings, started (its store connected) and in-process: a client
    for it, and the store closed after (a Redis store is bound to the test's event loop)."""
    emulator = Emulator(settings)
    await emulator.start()
    transport = httpx.ASGITransport(app=create_app(settings, emulator))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator.test") as c:
            yield c
    finally:
        await emulator.close()


def assert_clean(log: str) -> None:
    """A server's log holds no traceback."""
    assert "Traceback" not in log, log
    assert "Exception in ASGI application" not in log, log


@contextmanager
def two_servers(redis_url: str, fixtures: Path, *args: str) -> Iterator[tuple[Running, Running]]:
    """Two ``serve`` processes on one Redis with these fixtures (and ``args``): one emulator.
    Both are stopped on the way out; after a clean run each must have exited 0 with no traceback
    in its log."""
    common = ("--state", redis_url, "--fixtures", str(fixtures), "--no-reload", *args)
    a = start(*common)
    try:
        b = start(*common)
    except BaseException:
        a.stop()
        raise
    try:
        yield a, b
    finally:
        stopped = [running.stop() for running in (a, b)]
    for code, log in stopped:
        assert code == 0
        assert_clean(log)


def url(operation: str, channel: str = CHANNEL) -> str:
    return f"/channelsApi/{channel}/{operation}"


def forced(scenario: str) -> dict[str, str]:
    """The headers of a request that forces ``scenario`` (``x-vivi-scenario``)."""
    return {**AUTH, "x-vivi-scenario": scenario}


async def post_forced(client: httpx.AsyncClient, operation: str, scenario: str) -> httpx.Response:
    """One message to ``operation`` (a batch of one for ``batch``), forcing ``scenario``."""
    body = {"messages": [BODY]} if operation == "batch" else BODY
    return await client.post(url(operation), headers=forced(scenario), json=body)


def sse_events(body: bytes) -> list[dict[str, Any]]:
    """The JSON events of an SSE body, checking VIVI's exact framing on the way."""
    assert body.endswith(b"\n\n"), body[-40:]
    events = []
    for frame in sse.split_frames(body):
        data = sse.frame_data(frame)
        assert data is not None, frame
        assert sse.is_vivi_framed(frame), frame
        events.append(json.loads(data))
    return events


def chunks_text(events: list[dict[str, Any]]) -> str:
    return "".join(e["message"] for e in events if e["event"] == "on_chat_model_stream")


def reply_script(text: str, *, chunks: list[str] | None = None) -> Script:
    """A well-formed reply: start, the text in chunks (by word unless given), end; no delays."""
    parts = split_words(text) if chunks is None else chunks
    return Script(
        events=(ScriptEvent(START), *(ScriptEvent(CHUNK, p) for p in parts), ScriptEvent(END))
    )


_CONTEXT = RequestContext(
    channel_id=CHANNEL,
    message="hi there",
    thread_id=THREAD,
    user_id=None,
    attached_files=(),
    turn=1,
    headers={},
)


def ctx(message: str = "hi there", **fields: Any) -> RequestContext:
    """A request as a scenario sees it, for tests of choosing and building: the demo channel's
    first turn of ``THREAD``, with ``fields`` (RequestContext's) changed."""
    return replace(_CONTEXT, message=message, **fields)
