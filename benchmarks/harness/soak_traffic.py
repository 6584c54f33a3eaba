"""The soak's client: good and bad requests, hang-ups and slow clients, over raw sockets.

Every request is written by hand (asyncio streams, `Connection: close`) so that it can be cut,
slowed or malformed at any byte. Each action returns an outcome: the status the server answered
(with `+detail` when the body carries a JSON `detail`), or what became of the connection
(`closed`, `reset`, `timeout`, `hung up` when the client left on purpose).
"""

# ruff: noqa: S311  (random picks of traffic and timing, not secrets)

from __future__ import annotations

import asyncio
import json
import random
import socket
import struct
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from .common import CHANNEL, DELAYED, KEY

Action = Callable[["Client"], Awaitable[str]]


def _message() -> dict[str, str]:
    return {"message": "hello", "threadId": str(uuid.uuid4())}


def _message_bytes() -> bytes:
    return json.dumps(_message()).encode()


def request(path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    head = {
        "Host": "127.0.0.1",
        "Content-Type": "application/json",
        "vivi-api-key": KEY,
        "Connection": "close",
        "Content-Length": str(len(body)),
        **(headers or {}),
    }
    lines = [f"POST /channelsApi/{CHANNEL}/{path} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in head.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def outcome_of(reply: bytes) -> str:
    """The status of a complete reply, `+detail` if its body names one, `+end` if a chunked body
    ended properly; `closed` if the server closed without answering."""
    if not reply.startswith(b"HTTP/1.1 "):
        return "closed" if not reply else "garbled"
    status = reply[9:12].decode()
    head, _, body = reply.partition(b"\r\n\r\n")
    out = status
    if b'"detail"' in body:
        out += "+detail"
    if b"transfer-encoding: chunked" in head.lower() and body.endswith(b"0\r\n\r\n"):
        out += "+end"
    return out


@dataclass
class Client:
    port: int
    timeout: float = 15.0

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), self.timeout)

    async def exchange(self, raw: bytes) -> str:
        """Send raw, read the whole reply (the server closes: Connection: close); its outcome."""
        try:
            reader, writer = await self.connect()
            writer.write(raw)
            await writer.drain()
            reply = await asyncio.wait_for(reader.read(), self.timeout)
            writer.close()
        except TimeoutError:
            return "timeout"
        except OSError as exc:
            return _os_outcome(exc)
        return outcome_of(reply)

    async def send_until_answered(self, head: bytes, pieces: Iterator[bytes]) -> str:
        """Send head, then pieces until the server answers (or they run out); the outcome.

        A server that refuses a body half-way answers and closes with bytes unread: the kernel
        then resets the connection, and the client may see only that reset (outcome `reset`).
        """
        try:
            reader, writer = await self.connect()
            reply = asyncio.ensure_future(asyncio.wait_for(reader.read(), self.timeout))
            writer.write(head)
            for piece in pieces:
                if reply.done():
                    break
                writer.write(piece)
                await writer.drain()
            out = outcome_of(await reply)
            writer.close()
        except TimeoutError:
            return "timeout"
        except OSError as exc:
            return _os_outcome(exc)
        return out


def _os_outcome(exc: OSError) -> str:
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "reset"
    return f"error {exc.errno}"


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST half the time (SO_LINGER 0), as a killed client does; else a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None and random.random() < 0.5:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


async def invoke(c: Client) -> str:
    return await c.exchange(request("invoke", _message_bytes()))


async def stream(c: Client) -> str:
    body = _message_bytes()
    return await c.exchange(request("stream", body, {"Accept": "text/event-stream"}))


async def batch(c: Client) -> str:
    body = json.dumps({"messages": [_message() for _ in range(3)]}).encode()
    return await c.exchange(request("batch", body))


def _upload_request() -> bytes:
    boundary = uuid.uuid4().hex
    data = random.randbytes(2048)
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    ctype = f"multipart/form-data; boundary={boundary}"
    return request("files", body, {"Content-Type": ctype})


async def upload(c: Client) -> str:
    return await c.exchange(_upload_request())


async def bad_json(c: Client) -> str:
    return await c.exchange(request("invoke", b'{"message": "hello", "threadId": '))


async def bad_field(c: Client) -> str:
    return await c.exchange(request("invoke", b'{"message": "hello", "threadId": "not-a-uuid"}'))


async def wrong_key(c: Client) -> str:
    body = _message_bytes()
    return await c.exchange(request("invoke", body, {"vivi-api-key": uuid.uuid4().hex}))


async def unknown_channel(c: Client) -> str:
    raw = request("invoke", _message_bytes())
    return await c.exchange(raw.replace(f"/channelsApi/{CHANNEL}/".encode(), b"/channelsApi/nope/"))


async def wrong_type(c: Client) -> str:
    body = _message_bytes()
    return await c.exchange(request("invoke", body, {"Content-Type": "text/plain"}))


async def too_large(c: Client) -> str:
    """A body declared over the limit: refused on its Content-Length (1 KiB of it is sent)."""
    raw = request("invoke", b"x" * 1_500_000)
    return await c.exchange(raw[: raw.index(b"\r\n\r\n") + 4 + 1024])


async def too_large_chunked(c: Client) -> str:
    """A chunked body with no declared length, 64 KiB chunks until the server refuses it."""
    raw = request("invoke", b"", {"Transfer-Encoding": "chunked"})
    head = raw.replace(b"Content-Length: 0\r\n", b"")
    chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
    return await c.send_until_answered(head, iter([chunk] * 24 + [b"0\r\n\r\n"]))


async def garbage(c: Client) -> str:
    return await c.exchange(b"\x16\x03\x01\x02\x00 not http at all\r\n\r\n")


async def hangup_stream(c: Client) -> str:
    """Open a delayed stream, read its first event, leave."""
    body = _message_bytes()
    raw = request("stream", body, {"Accept": "text/event-stream", **DELAYED.headers})
    try:
        reader, writer = await c.connect()
        writer.write(raw)
        await writer.drain()
        await asyncio.wait_for(reader.readuntil(b"data:"), c.timeout)
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return "no first event"
    _abort(writer)
    return "hung up"


async def hangup_invoke(c: Client) -> str:
    """An invoke whose reply takes a second (the delayed scenario): leave while it is due."""
    raw = request("invoke", _message_bytes(), DELAYED.headers)
    try:
        _, writer = await c.connect()
        writer.write(raw)
        await writer.drain()
        await asyncio.sleep(random.uniform(0.05, 0.5))
    except (OSError, TimeoutError):
        return "no connection"
    _abort(writer)
    return "hung up"


async def hangup_body(c: Client) -> str:
    """Promise a body (an invoke's JSON or an upload's multipart), send part of it, leave."""
    raw = _upload_request() if random.random() < 0.5 else request("invoke", _message_bytes())
    cut = raw.index(b"\r\n\r\n") + 4 + random.randint(1, 200)
    try:
        _, writer = await c.connect()
        writer.write(raw[:cut])
        await writer.drain()
        await asyncio.sleep(random.uniform(0.0, 0.3))
    except (OSError, TimeoutError):
        return "no connection"
    _abort(writer)
    return "hung up"


async def slow_headers(c: Client) -> str:
    """Slowloris: a request line, then a header line every half second, never the blank line."""
    try:
        _, writer = await c.connect()
        writer.write(f"POST /channelsApi/{CHANNEL}/invoke HTTP/1.1\r\nHost: x\r\n".encode())
        for i in range(random.randint(2, 6)):
            await asyncio.sleep(0.5)
            writer.write(f"X-Slow-{i}: {'a' * 20}\r\n".encode())
            await writer.drain()
    except (OSError, TimeoutError):
        return "server closed"
    _abort(writer)
    return "hung up"


async def slow_body(c: Client) -> str:
    """A good request whose body arrives in pieces 0.3 s apart: it must be answered."""
    raw = request("invoke", _message_bytes())
    start = raw.index(b"\r\n\r\n") + 4
    pieces = [raw[: start + 5], raw[start + 5 : start + 20], raw[start + 20 : -5], raw[-5:]]
    try:
        reader, writer = await c.connect()
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.3)
        reply = await asyncio.wait_for(reader.read(), c.timeout)
        writer.close()
    except (OSError, TimeoutError):
        return "no answer"
    return outcome_of(reply)


# name: (action, weight, outcomes that are right; None: any outcome is, the client left).
# "4xx+detail": any 4xx with a JSON detail (which 4xx is the contract tests' business).
ACTIONS: dict[str, tuple[Action, int, set[str] | None]] = {
    "invoke": (invoke, 20, {"200"}),
    "stream": (stream, 20, {"200+end"}),
    "batch": (batch, 8, {"200"}),
    "upload": (upload, 6, {"200"}),
    "bad-json": (bad_json, 5, {"4xx+detail"}),
    "bad-field": (bad_field, 5, {"4xx+detail"}),
    "unknown-channel": (unknown_channel, 2, {"4xx+detail"}),
    "wrong-type": (wrong_type, 2, {"4xx+detail"}),
    "wrong-key": (wrong_key, 5, {"401+detail"}),
    "too-large": (too_large, 1, {"413+detail"}),
    "too-large-chunked": (too_large_chunked, 1, {"413+detail", "reset"}),
    "garbage": (garbage, 2, {"400", "closed", "reset"}),
    "hangup-stream": (hangup_stream, 6, None),
    "hangup-invoke": (hangup_invoke, 4, None),
    "hangup-body": (hangup_body, 4, None),
    "slow-headers": (slow_headers, 2, None),
    "slow-body": (slow_body, 3, {"200"}),
}
# What must work once the soak is over: each of these, NORMAL_EACH times.
NORMAL = ["invoke", "stream", "batch", "upload"]


def is_right(name: str, outcome: str) -> bool:
    expected = ACTIONS[name][2]
    if expected is None or outcome in expected:
        return True
    return "4xx+detail" in expected and outcome.startswith("4") and outcome.endswith("+detail")
