"""10. /invoke and /batch stop working when the client hangs up, and the journal says it left.

They once slept through the scripted time for nobody, and were journaled and logged as 200.
"""

from __future__ import annotations

import json
import secrets
import socket
import time

import pytest

from tests.adversarial.conftest import Served
from tests.support import THREAD

SLOW = {"text": "too late", "timing": {"first_chunk_ms": 60_000}}


def _wait_for(condition: object, timeout: float = 20.0) -> None:
    """Poll ``condition`` (a callable) until it holds; the deadline only guards a hang."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


@pytest.mark.parametrize("operation", ["invoke", "batch"])
def test_a_client_that_hangs_up_stops_the_wait(served: Served, operation: str) -> None:
    # A channel of the test's own: its access lines are told apart from any other test's.
    channel, key = f"hang-up-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    served.http.post("/_emulator/channels", json={"id": channel, "key": key}).raise_for_status()
    served.http.post("/_emulator/queue", json=SLOW).raise_for_status()
    message = {"message": "slow", "threadId": THREAD}
    body = json.dumps({"messages": [message]} if operation == "batch" else message).encode()
    path = f"/channelsApi/{channel}/{operation}"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\nvivi-api-key: {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=30)
    sock.sendall(head + body)
    # The server has the request once it has taken the queued reply; then the client leaves.
    _wait_for(lambda: served.http.get("/_emulator/queue").json()["queue"] == [])
    sock.close()

    def journaled() -> list[dict[str, object]]:
        entries = served.http.get("/_emulator/journal", params={"path": operation}).json()
        return list(entries["entries"])

    # Well before the scripted 60 s: the work stopped when the client left.
    _wait_for(lambda: journaled() != [])
    (entry,) = journaled()
    assert entry["client_left"] is True
    assert entry["status"] != 200
    assert entry["duration_ms"] < 60_000  # type: ignore[operator]
    # The access line says no status went out.
    _wait_for(lambda: f"POST {path} channel={channel} status=-" in served.log())
    assert f"POST {path} channel={channel} status=200" not in served.log()
