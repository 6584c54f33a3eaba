"""Two `vivi-emulator serve` processes on one Redis are one emulator (issue 11)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.server import Running, start
from tests.support import AUTH, THREAD, assert_clean, two_servers

C = "/_emulator"
TURNS = """\
scenarios:
  - name: counting
    match: {message: {equals: count}}
    turns:
      - text: one
      - text: two
      - text: three
"""


def _invoke(base: str, message: str, thread: str = THREAD, key: str = "demo-key") -> httpx.Response:
    return httpx.post(
        f"{base}/channelsApi/demo-channel/invoke",
        headers={"vivi-api-key": key},
        json={"message": message, "threadId": thread},
        timeout=10,
    )


@pytest.fixture
def pair(redis_url: str, tmp_path: Path) -> Iterator[tuple[Running, Running]]:
    (tmp_path / "turns.yaml").write_text(TURNS)
    with two_servers(redis_url, tmp_path) as servers:
        yield servers


def test_an_upload_through_one_is_served_by_the_other(pair: tuple[Running, Running]) -> None:
    a, b = pair
    uploaded = httpx.post(
        f"{a.base_url}/channelsApi/demo-channel/files",
        headers=AUTH,
        files={"files": ("note.txt", b"shared bytes", "text/plain")},
    )
    file_url = uploaded.json()["urls"][0]
    served = httpx.get(file_url.replace(a.base_url, b.base_url))
    assert (served.status_code, served.content) == (200, b"shared bytes")


def test_a_conversation_advances_in_order_across_both(pair: tuple[Running, Running]) -> None:
    a, b = pair
    said = [("count", a), ("what?", b), ("go on", a), ("count", b)]
    replies = [_invoke(server.base_url, message).json()["message"] for message, server in said]
    # The thread stays in the conversation whatever it says; after its last turn, "count"
    # enters it again.
    assert replies == ["one", "two", "three", "one"]


def test_a_queued_reply_is_consumed_once_when_requests_race(
    pair: tuple[Running, Running],
) -> None:
    a, b = pair
    queued = httpx.post(f"{a.base_url}{C}/queue", json={"text": "only once"})
    assert queued.status_code == 201
    bases = [a.base_url, b.base_url] * 10
    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(lambda base: _invoke(base, "hi", str(uuid.uuid4())), bases))
    assert all(r.status_code == 200 for r in replies)
    assert [r.json()["message"] for r in replies].count("only once") == 1
    assert httpx.get(f"{b.base_url}{C}/queue").json()["queue"] == []


def test_a_key_rotated_on_one_is_refused_on_the_other(pair: tuple[Running, Running]) -> None:
    a, b = pair
    assert _invoke(b.base_url, "hi").status_code == 200
    rotated = httpx.post(f"{a.base_url}{C}/channels/demo-channel/rotate", json={})
    new_key = rotated.json()["key"]
    refused = _invoke(b.base_url, "hi")
    assert (refused.status_code, refused.json()["detail"]) == (401, "invalid API key")
    assert _invoke(b.base_url, "hi", key=new_key).status_code == 200
    added = httpx.post(f"{b.base_url}{C}/channels", json={"id": "second", "key": "second-key"})
    assert added.status_code == 201
    answer = httpx.post(
        f"{a.base_url}/channelsApi/second/invoke",
        headers={"vivi-api-key": "second-key"},
        json={"message": "hi", "threadId": THREAD},
    )
    assert answer.status_code == 200


def test_the_journal_is_one_ordered_list(pair: tuple[Running, Running]) -> None:
    a, b = pair
    for index, server in enumerate((a, b, a, b)):
        _invoke(server.base_url, f"message {index}")
    for server in (a, b):
        entries = httpx.get(f"{server.base_url}{C}/journal").json()["entries"]
        assert [e["body"]["message"] for e in entries] == [f"message {i}" for i in range(4)]


def test_two_workers_share_one_state(redis_url: str, tmp_path: Path) -> None:
    (tmp_path / "turns.yaml").write_text(TURNS)
    server = start("--state", redis_url, "--workers", "2", "--fixtures", str(tmp_path))
    try:
        # New connections each time: the kernel spreads them over both workers.
        replies = [_invoke(server.base_url, "count").json()["message"] for _ in range(6)]
        assert replies == ["one", "two", "three", "one", "two", "three"]
        entries = httpx.get(f"{server.base_url}{C}/journal").json()["entries"]
        assert len(entries) == 6
    finally:
        code, log = server.stop()
    assert code == 0
    assert_clean(log)
    assert "2 workers share it" in log
