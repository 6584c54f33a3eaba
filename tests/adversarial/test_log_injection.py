"""11. Control characters in a request's path never write a forged line into the log."""

from __future__ import annotations

import socket
import time

import pytest

from tests.adversarial.conftest import Served

FORGED = "2026-01-01 00:00:00,000 INFO vivi_emulator.access: forged"


@pytest.mark.parametrize(
    "path",
    [
        "/channelsApi/demo-channel/files/x%0a" + FORGED.replace(" ", "%20") + "/y",
        "/channelsApi/demo%0d%0a" + FORGED.replace(" ", "%20") + "/invoke",
        "/nothing%0a" + FORGED.replace(" ", "%20"),
        "/nothing%1b[31m%08%07",
    ],
)
def test_a_path_cannot_forge_a_log_line(served: Served, path: str) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\nConnection: close\r\n\r\n".encode()
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith((b"HTTP/1.1 404", b"HTTP/1.1 405")), answer[:200]
    deadline = time.monotonic() + 10
    while "forged" not in served.log() and "\\x1b" not in served.log():
        assert time.monotonic() < deadline, "the access line never came"
        time.sleep(0.02)
    for line in served.log().splitlines():
        assert not line.startswith(FORGED[:10] + " 00:00:00"), line
        assert "\x1b" not in line and "\x07" not in line and "\r" not in line
    assert "\\n" + FORGED[:10] in served.log() or "\\x1b" in served.log()
