"""sse_load.py's response parser, against a real socket server that cuts replies anywhere."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
import sse_load

FRAMES = [b'data: {"n": %d}\n\n' % i for i in range(3)]
EVENTS = b"".join(FRAMES)
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"".join(b"%x;ext=1\r\n%s\r\n" % (len(f), f) for f in FRAMES)
    + b"0\r\n\r\n"
)

Serve = Callable[[bytes, int, bool], Coroutine[Any, Any, dict[str, Any]]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Serve one reply in pieces of `step` bytes (then close, or hang up before the end)."""
    servers: list[asyncio.Server] = []

    async def run(reply: bytes, step: int, cut: bool = False) -> dict[str, Any]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            end = len(reply) - 10 if cut else len(reply)
            for i in range(0, end, step):
                writer.write(reply[i : min(i + step, end)])
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        args = argparse.Namespace(
            host="127.0.0.1", port=port, path="/s", streams=2, header=[], body="{}",
            timeout=5.0, ramp=0.0, start_at=0.0,
        )  # fmt: skip
        return await sse_load.run(args)

    yield run
    for server in servers:
        server.close()


@pytest.mark.parametrize("step", [1, 7, 1000])
async def test_chunked_replies_are_read_whole_however_they_are_cut(serve: Serve, step: int) -> None:
    out = await serve(CHUNKED, step, False)
    assert [(ok, status, len(events)) for ok, status, _, _, events in out["streams"]] == [
        (True, 200, 3),
        (True, 200, 3),
    ]


async def test_a_content_length_reply_counts_its_last_line_without_a_newline(serve: Serve) -> None:
    body = EVENTS + b"data: last"
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    out = await serve(reply, 5, False)
    assert [(s[0], len(s[4])) for s in out["streams"]] == [(True, 4), (True, 4)]


async def test_a_close_delimited_reply_ends_with_the_connection(serve: Serve) -> None:
    out = await serve(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + EVENTS, 4, False)
    assert [(s[0], len(s[4])) for s in out["streams"]] == [(True, 3), (True, 3)]


async def test_a_reply_cut_before_its_end_is_not_ok(serve: Serve) -> None:
    out = await serve(CHUNKED, 3, True)
    assert all(not ok for ok, *_ in out["streams"])


async def test_a_status_other_than_200_is_not_ok(serve: Serve) -> None:
    out = await serve(CHUNKED.replace(b"200 OK", b"500 Internal Server Error"), 50, False)
    assert [(ok, status) for ok, status, *_ in out["streams"]] == [(False, 500), (False, 500)]
