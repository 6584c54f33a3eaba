"""A raw HTTP/1.1 client for wire tests: a socket, ``recv``, and our own chunk parser.

No HTTP library sits between the test and the bytes: each chunk of a chunked body is one ASGI
body message, so the chunks are the server's writes, whatever TCP did with them.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tests.support import CHANNEL, KEY, THREAD


@dataclass
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    chunks: list[bytes] = field(default_factory=list)
    # (seconds since the request, chunk) as each chunk was parsed; the first chunk's time is
    # when its bytes arrived.
    arrivals: list[float] = field(default_factory=list)
    terminated: bool = False  # the chunked body ended with its 0-size chunk
    closed: bool = False  # the server closed the connection
    body: bytes = b""  # a body with Content-Length
    closed_at: float | None = None

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name.lower()]


class _Reader:
    def __init__(self, sock: socket.socket, started: float) -> None:
        self.sock = sock
        self.buffer = b""
        self.closed = False
        self.started = started

    def fill(self) -> bool:
        if self.closed:
            return False
        data = self.sock.recv(65536)
        if not data:
            self.closed = True
            return False
        self.buffer += data
        return True

    def line(self) -> bytes | None:
        while b"\r\n" not in self.buffer:
            if not self.fill():
                return None
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def exactly(self, size: int) -> bytes | None:
        while len(self.buffer) < size:
            if not self.fill():
                return None
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


def request(
    base_url: str,
    operation: str = "stream",
    *,
    scenario: str | None = None,
    body: dict[str, object] | None = None,
    timeout: float = 30.0,
) -> RawResponse:
    """POST to the VIVI surface and read the whole answer off the socket."""
    parts = urlsplit(base_url)
    payload = json.dumps(body or {"message": "hello", "threadId": THREAD}).encode()
    lines = [
        f"POST /channelsApi/{CHANNEL}/{operation} HTTP/1.1",
        f"Host: {parts.netloc}",
        f"vivi-api-key: {KEY}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        "Connection: close",
    ]
    if scenario is not None:
        lines.append(f"x-vivi-scenario: {scenario}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    assert parts.hostname is not None
    assert parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        started = time.monotonic()
        sock.sendall(head + payload)
        return _read(_Reader(sock, started))


def _read(reader: _Reader) -> RawResponse:
    status_line = reader.line()
    assert status_line is not None, "the server closed without answering"
    status = int(status_line.split(b" ")[1])
    headers = []
    while (line := reader.line()) not in (b"", None):
        assert line is not None
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip().lower(), value.strip()))
    response = RawResponse(status, headers)
    lengths = response.header("content-length")
    if lengths:
        response.body = reader.exactly(int(lengths[0])) or b""
        return response
    assert response.header("transfer-encoding") == ["chunked"], headers
    while True:
        size_line = reader.line()
        if size_line is None:
            break
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            response.terminated = reader.line() == b""
            break
        chunk = reader.exactly(size)
        if chunk is None:
            response.chunks.append(reader.buffer)  # a chunk cut short: kept, the body ends
            reader.buffer = b""
            break
        if reader.exactly(2) != b"\r\n":
            raise AssertionError(f"chunk of {size} bytes not followed by CRLF")
        response.chunks.append(chunk)
        response.arrivals.append(time.monotonic() - reader.started)
    while reader.fill():
        pass  # after the body: nothing more may come but the close
    response.closed = reader.closed
    response.closed_at = time.monotonic() - reader.started
    assert reader.buffer == b"", reader.buffer[:80]
    return response
