"""8. A malformed chunked body is a 400, never a 500; the journal does not call it a hang-up."""

from __future__ import annotations

import socket

from tests.adversarial.conftest import Served
from tests.support import KEY

MALFORMED = b"zz\r\nhello\r\n0\r\n\r\n"


def raw_request(port: int, data: bytes) -> bytes:
    """Send bytes as they are; return all the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_malformed_chunked_body_is_a_400(served: Served) -> None:
    head = (
        "POST /channelsApi/demo-channel/invoke HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{served.port}\r\n"
        f"vivi-api-key: {KEY}\r\n"
        "Content-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    answer = raw_request(served.port, head + MALFORMED)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 400"), answer
    if served.server == "granian":
        # granian hands the app the broken body as a hang-up; the app answers it.
        assert b"content-type: application/json" in rest.lower()
        assert b'"detail"' in rest
    # (uvicorn answers a plain-text 400 of its own, then tells the app the client left.)
    (entry,) = served.http.get("/_emulator/journal").json()["entries"]
    assert entry["status"] == 400
    assert entry["client_left"] is False
    assert "could not be read" in entry["error"]
