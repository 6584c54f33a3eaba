"""The journal as HAR 1.2: valid against the format's schema, one entry per VIVI request, and a
stream's body byte for byte what the client received."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
from pydantic import SecretStr

from vivi_emulator.settings import Limits, Settings

from tests.server import Running, start
from tests.support import AUTH, KEY, serving, sse_events

SCHEMA = json.loads((Path(__file__).parent / "resources" / "har-1.2.schema.json").read_text())
# jsonschema-rs: schemathesis's own validator, already installed; formats (date-time, uri)
# checked too.
_VALIDATOR = jsonschema_rs.Draft7Validator(SCHEMA, validate_formats=True)
C = "/_emulator"


def _validate(har: dict[str, Any]) -> None:
    _VALIDATOR.validate(har)


def _stream(base: str, body: dict[str, Any], headers: dict[str, str] = AUTH) -> bytes:
    """The bytes of a stream exactly as they arrived."""
    url = f"{base}/channelsApi/demo-channel/stream"
    with httpx.stream("POST", url, headers=headers, json=body, timeout=30) as response:
        assert response.status_code == 200
        return b"".join(response.iter_raw())


def _message(text: str) -> dict[str, str]:
    return {"message": text, "threadId": str(uuid.uuid4())}


@pytest.fixture
def served() -> Iterator[Running]:
    server = start("--no-reload")
    yield server
    assert server.stop()[0] == 0


def _by_thread(har: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["_vivi"]["thread"]: e for e in har["log"]["entries"] if e["_vivi"]["thread"]}


def test_a_mixed_run_is_valid_har_and_streams_match_byte_for_byte(served: Running) -> None:
    base = served.base_url
    sent = {}
    for text in ("hello", "tell me more", "a third one"):
        body = _message(text)
        sent[body["threadId"]] = _stream(base, body)
    # Wire options change the bytes (CRLF line ends, frames split in two writes): the journal
    # keeps those bytes.
    wired = {"text": "over the wire", "wire": {"line_ending": "crlf", "split": {"at": 7}}}
    assert httpx.post(f"{base}{C}/queue", json=wired).status_code == 201
    body = _message("wired")
    sent[body["threadId"]] = _stream(base, body)
    assert b"\r\n\r\n" in sent[body["threadId"]]
    paced = {"text": "slow and steady", "timing": {"first_chunk_ms": 50, "chunk_ms": 20}}
    assert httpx.post(f"{base}{C}/queue", json=paced).status_code == 201
    body = _message("paced")
    sent[body["threadId"]] = _stream(base, body)
    invoke = httpx.post(f"{base}/channelsApi/demo-channel/invoke", headers=AUTH, json=_message("x"))
    assert invoke.status_code == 200
    batch = {"messages": [_message("one"), _message("two")]}
    httpx.post(f"{base}/channelsApi/demo-channel/batch", headers=AUTH, json=batch)
    refused = httpx.post(
        f"{base}/channelsApi/demo-channel/stream", headers={"vivi-api-key": "nope"}, json=body
    )
    assert refused.status_code == 401

    page = httpx.get(f"{base}{C}/journal.har")
    assert page.status_code == 200
    har = page.json()
    _validate(har)
    entries = har["log"]["entries"]
    assert len(entries) == len(httpx.get(f"{base}{C}/journal").json()["entries"]) == 8
    streams = _by_thread(har)
    for thread, received in sent.items():
        entry = streams[thread]
        assert entry["response"]["content"]["mimeType"].startswith("text/event-stream")
        assert entry["response"]["content"]["text"].encode() == received
        assert entry["response"]["bodySize"] == len(received)
        timings = entry["timings"]
        assert timings["wait"] > 0
        assert timings["wait"] + timings["receive"] == pytest.approx(entry["time"], abs=0.01)
    # The paced stream: its start event at once (the first byte), its chunks from 50 ms on:
    # they are the receive time, not the wait.
    slow = streams[body["threadId"]]["timings"]
    assert slow["receive"] >= 50 + 2 * 20
    assert slow["wait"] < slow["receive"]
    assert entries[-1]["response"]["status"] == 401
    assert json.loads(entries[-1]["response"]["content"]["text"]) == {"detail": "invalid API key"}
    assert entries[0]["request"]["url"] == f"{base}/channelsApi/demo-channel/stream"


def test_keys_are_redacted_as_in_the_journal(served: Running) -> None:
    base = served.base_url
    echo = {"text": f"your key is {KEY}"}
    assert httpx.post(f"{base}{C}/queue", json=echo).status_code == 201
    received = _stream(base, _message(f"my key is {KEY}"))
    # The client got the key, cut over several events; the HAR must not hold it.
    assert KEY in "".join(e["message"] for e in sse_events(received))
    text = httpx.get(f"{base}{C}/journal.har").text
    assert KEY not in text
    entry = json.loads(text)["log"]["entries"][0]
    assert {"name": "vivi-api-key", "value": "[redacted]"} in entry["request"]["headers"]
    assert "[redacted]" in entry["response"]["content"]["text"]
    assert "[redacted]" in entry["request"]["postData"]["text"]


def test_the_journal_filters_apply(served: Running) -> None:
    base = served.base_url
    first, second = _message("one"), _message("two")
    _stream(base, first)
    _stream(base, second)
    har = httpx.get(f"{base}{C}/journal.har", params={"thread": second["threadId"]}).json()
    assert [e["_vivi"]["thread"] for e in har["log"]["entries"]] == [second["threadId"]]
    assert (
        httpx.get(f"{base}{C}/journal.har", params={"channel": "other"}).json()["log"]["entries"]
        == []
    )


async def test_a_cut_stream_is_marked() -> None:
    settings = Settings(limits=Limits(journal_entry_bytes=4096))
    async with serving(settings) as client:
        words = " ".join(f"word{i}" for i in range(2000))
        await client.post(f"{C}/queue", json={"text": words})
        body = _message("long")
        answer = await client.post("/channelsApi/demo-channel/stream", headers=AUTH, json=body)
        assert answer.status_code == 200
        har = (await client.get(f"{C}/journal.har")).json()
    _validate(har)
    entry = har["log"]["entries"][0]
    assert entry["_truncated"] is True
    assert "truncated" in entry["response"]["content"]["comment"]
    assert entry["response"]["bodySize"] == -1
    assert len(entry["response"]["content"]["text"].encode()) < len(answer.content)


async def test_the_admin_token_guards_the_har() -> None:
    settings = Settings(host="0.0.0.0", admin_token=SecretStr("har-secret"))
    async with serving(settings) as client:
        assert (await client.get(f"{C}/journal.har")).status_code == 401
        allowed = await client.get(f"{C}/journal.har", headers={"x-vivi-admin-token": "har-secret"})
        assert allowed.status_code == 200
