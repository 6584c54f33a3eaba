"""The guard (guard.py) over the ways HTTP/1.x can carry a request: HTTP/1.0 without a Host,
pipelined requests, chunked bodies; and the Origin / Sec-Fetch-Site variants a browser (or a
page trying its luck) may send to the control API. Each on both servers.
"""

from __future__ import annotations

import re
import socket

import pytest

from tests.adversarial.conftest import Served

EVIL = "http://evil.example"


def raw_request(port: int, data: bytes) -> bytes:
    """Send bytes as they are; return all the server answers until it closes the connection
    (each exchange here ends with HTTP/1.0 or ``Connection: close``). The write side stays
    open: hyper (granian) drops a connection its client half-closes, answered or not."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def _statuses(answer: bytes) -> list[int]:
    """The status of each response in a connection's bytes, in order."""
    return [int(status) for status in re.findall(rb"HTTP/1\.[01] (\d{3}) ", answer)]


def _queue(served: Served) -> list[str]:
    queue: list[str] = served.http.get("/_emulator/queue").json()["queue"]
    return queue


def test_http_1_0_without_a_host_is_still_refused_cross_origin(served: Served) -> None:
    answer = raw_request(
        served.port,
        b"POST /_emulator/reset HTTP/1.0\r\nOrigin: " + EVIL.encode() + b"\r\n\r\n",
    )
    assert _statuses(answer) == [403], answer
    assert b"cross-origin" in answer


def test_http_1_0_with_a_foreign_host_is_refused(served: Served) -> None:
    answer = raw_request(
        served.port, b"GET /_emulator/journal HTTP/1.0\r\nHost: evil.example\r\n\r\n"
    )
    assert _statuses(answer) == [403], answer


def test_http_1_0_from_a_tool_is_answered(served: Served) -> None:
    answer = raw_request(served.port, b"GET /_emulator/health HTTP/1.0\r\n\r\n")
    assert _statuses(answer) == [200], answer


def test_a_refused_request_body_is_never_read_as_the_next_pipelined_request(
    served: Served,
) -> None:
    """A cross-origin control write whose body is itself a request (a reset): refused, its body
    read as its body (never run), and the request after it on the connection answered."""
    served.http.post("/_emulator/queue", json={"name": "kept", "text": "x"}).raise_for_status()
    smuggled = b"POST /_emulator/reset HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    host = f"Host: 127.0.0.1:{served.port}\r\n".encode()
    refused = (
        b"POST /_emulator/queue HTTP/1.1\r\n" + host + b"Origin: " + EVIL.encode() + b"\r\n"
        b"Content-Type: text/plain\r\nContent-Length: " + str(len(smuggled)).encode() + b"\r\n\r\n"
    ) + smuggled
    after = b"GET /_emulator/queue HTTP/1.1\r\n" + host + b"Connection: close\r\n\r\n"
    answer = raw_request(served.port, refused + after)
    assert _statuses(answer) == [403, 200], answer
    assert b'"kept"' in answer
    assert _queue(served) == ["kept"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (b"Content-Type: text/plain\r\n", 415),
        (b"", 415),  # a chunked body with no Content-Type at all
        (b"Content-Type: application/json\r\nOrigin: " + EVIL.encode() + b"\r\n", 403),
    ],
    ids=["text/plain", "no content type", "cross-origin json"],
)
def test_a_chunked_control_write_is_checked_like_any_other(
    served: Served, headers: bytes, status: int
) -> None:
    body = b'{"name": "chunked", "text": "x"}'
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    answer = raw_request(
        served.port,
        b"POST /_emulator/queue HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        + headers
        + b"Connection: close\r\n\r\n"
        + chunked,
    )
    assert _statuses(answer) == [status], answer
    assert _queue(served) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "null"},
        {"origin": "NULL"},
        {"origin": "https://127.0.0.1:{port}"},  # another scheme: another origin
        {"origin": "http://127.0.0.1:{port}/page"},  # not an origin at all
        {"origin": "http://127.0.0.1.evil.example:{port}"},
        {"origin": "http://127.0.0.1"},  # another port
        {"origin": ""},
        {"sec-fetch-site": "same-site"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "CROSS-SITE"},
        {"sec-fetch-site": "something-new"},
        {"origin": "http://127.0.0.1:{port}", "sec-fetch-site": "cross-site"},
    ],
)
def test_cross_origin_variants_are_refused(served: Served, headers: dict[str, str]) -> None:
    sent = {k: v.format(port=served.port) for k, v in headers.items()}
    response = served.http.post("/_emulator/queue", json={"text": "x"}, headers=sent)
    assert response.status_code == 403, response.text
    assert _queue(served) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://127.0.0.1:{port}"},
        {"origin": "HTTP://127.0.0.1:{port}"},
        {"origin": "http://127.0.0.1:{port}/"},
        {"sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "Same-Origin"},
        {"sec-fetch-site": "none"},  # typed in the address bar, or a bookmark
        {"origin": "http://127.0.0.1:{port}", "sec-fetch-site": "same-origin"},
    ],
)
def test_same_origin_variants_are_answered(served: Served, headers: dict[str, str]) -> None:
    sent = {k: v.format(port=served.port) for k, v in headers.items()}
    response = served.http.post("/_emulator/queue", json={"text": "x"}, headers=sent)
    assert response.status_code == 201, response.text
