"""11. Control characters in a request's path never write a forged line into the log."""

from __future__ import annotations

import secrets
import socket
import time

import pytest

from tests.adversarial.conftest import Served

FORGED = "2026-01-01 00:00:00,000 INFO vivi_emulator.access: forged"


@pytest.mark.parametrize(
    ("template", "escaped"),
    [
        ("/channelsApi/demo-channel/files/{marker}%0a{forged}/y", "\\n" + FORGED),
        ("/channelsApi/{marker}%0d%0a{forged}/invoke", "\\r\\n" + FORGED),
        ("/nothing/{marker}%0a{forged}", "\\n" + FORGED),
        ("/nothing/{marker}%1b[31m%08%07", "\\x1b[31m\\x08\\x07"),
    ],
)
def test_a_path_cannot_forge_a_log_line(served: Served, template: str, escaped: str) -> None:
    marker = secrets.token_hex(6)
    path = template.format(marker=marker, forged=FORGED.replace(" ", "%20"))
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\nConnection: close\r\n\r\n"
        sock.sendall(head.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith((b"HTTP/1.1 404", b"HTTP/1.1 405")), answer[:200]
    deadline = time.monotonic() + 10
    while marker not in served.log():  # the access line is written within 50 ms
        assert time.monotonic() < deadline, "the access line never came"
        time.sleep(0.02)
    lines = served.log().splitlines()
    (line,) = [line for line in lines if marker in line]
    assert escaped in line  # one line, the characters shown escaped
    assert not [line for line in lines if line.startswith(FORGED)]
    assert not [line for line in lines if "\x1b" in line or "\x07" in line or "\r" in line]
