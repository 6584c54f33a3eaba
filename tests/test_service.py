"""The service as a client and a test see it, over HTTP, on both state stores."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from vivi_emulator.settings import Limits, Settings

from tests.support import AUTH, OTHER_THREAD, THREAD, serving, sse_events, url

C = "/_emulator"


@pytest.fixture
async def client(state: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        access_log=False,
        reload_fixtures=False,
        state=state,
        limits=Limits(files_quota_bytes=1000),
    )
    async with serving(settings) as client:
        yield client


async def test_a_batch_journals_every_item_with_its_own_thread_and_choice(
    client: httpx.AsyncClient,
) -> None:
    await client.post(f"{C}/queue", json={"text": "scripted", "match": {"message": "second"}})
    items = [
        {"message": "hello", "threadId": THREAD},
        {"message": "second", "threadId": OTHER_THREAD},
    ]
    response = await client.post(url("batch"), headers=AUTH, json={"messages": items})
    assert [r["message"] for r in response.json()["responses"]][1] == "scripted"
    (entry,) = (await client.get(f"{C}/journal")).json()["entries"]
    assert [(i["thread"], i["scenario"], i["chosen_by"]) for i in entry["items"]] == [
        (THREAD, "greeting", "match"),
        (OTHER_THREAD, "queued-1", "queue"),
    ]
    # Filtering by any item's thread finds the batch.
    for thread in (THREAD, OTHER_THREAD):
        found = (await client.get(f"{C}/journal", params={"thread": thread})).json()
        assert len(found["entries"]) == 1


async def test_a_stream_is_journaled_once_finished_with_its_events(
    client: httpx.AsyncClient,
) -> None:
    body = {"message": "hello", "threadId": THREAD}
    streamed = await client.post(url("stream"), headers=AUTH, json=body)
    (entry,) = (await client.get(f"{C}/journal")).json()["entries"]
    assert entry["events"] == sse_events(streamed.content)
    assert (entry["status"], entry["client_left"], entry["turn"]) == (200, False, 1)


async def test_forcing_is_per_channel_or_global(client: httpx.AsyncClient) -> None:
    await client.post(f"{C}/channels", json={"id": "other", "key": "other-key"})
    await client.put(f"{C}/forced", json={"scenario": "rate-limited", "channel": "demo-channel"})
    body = {"message": "hi", "threadId": THREAD}
    assert (await client.post(url("invoke"), headers=AUTH, json=body)).status_code == 429
    other = await client.post(
        url("invoke", "other"), headers={"vivi-api-key": "other-key"}, json=body
    )
    assert other.status_code == 200
    scenarios = await client.get(f"{C}/scenarios", params={"channel": "demo-channel"})
    assert scenarios.json()["forced"] == "rate-limited"
    await client.put(f"{C}/forced", json={"scenario": "server-error"})
    other = await client.post(
        url("invoke", "other"), headers={"vivi-api-key": "other-key"}, json=body
    )
    assert other.status_code == 500
    (limited,) = [
        e for e in (await client.get(f"{C}/journal")).json()["entries"] if e["status"] == 429
    ]
    assert (limited["scenario"], limited["chosen_by"]) == ("rate-limited", "forced")


async def test_a_rotated_key_is_refused_at_once(client: httpx.AsyncClient) -> None:
    rotated = await client.post(f"{C}/channels/demo-channel/rotate", json={"key": "new-key-1"})
    assert rotated.json() == {"id": "demo-channel", "key": "new-key-1"}
    body = {"message": "hi", "threadId": THREAD}
    old = await client.post(url("invoke"), headers=AUTH, json=body)
    assert (old.status_code, old.json()["detail"]) == (401, "invalid API key")
    new = await client.post(url("invoke"), headers={"vivi-api-key": "new-key-1"}, json=body)
    assert new.status_code == 200
    journal = (await client.get(f"{C}/journal")).text
    assert "new-key-1" not in journal
    assert "demo-key" not in journal


async def test_an_upload_over_the_quota_is_507_naming_it_and_loses_nothing(
    client: httpx.AsyncClient,
) -> None:
    first = await client.post(url("files"), headers=AUTH, files={"files": ("a.txt", b"x" * 700)})
    assert first.status_code == 200
    over = await client.post(url("files"), headers=AUTH, files={"files": ("b.txt", b"y" * 400)})
    assert over.status_code == 507
    assert "files_quota_bytes" in over.json()["detail"]
    kept = await client.get(first.json()["urls"][0])
    assert (kept.status_code, kept.content) == (200, b"x" * 700)


async def test_usage_reports_what_is_held_against_the_bounds(client: httpx.AsyncClient) -> None:
    await client.post(url("invoke"), headers=AUTH, json={"message": "hi", "threadId": THREAD})
    usage = (await client.get(f"{C}/usage")).json()
    assert usage["usage"]["threads"] == 1
    assert usage["usage"]["journal_entries"] == 1
    assert usage["bounds"]["files_quota_bytes"] == 1000


async def test_a_deleted_channels_key_stays_redacted(client: httpx.AsyncClient) -> None:
    await client.post(f"{C}/channels", json={"id": "brief", "key": "brief-key-123"})
    await client.delete(f"{C}/channels/brief")
    body = {"message": "my old key was brief-key-123", "threadId": THREAD}
    assert (await client.post(url("invoke"), headers=AUTH, json=body)).status_code == 200
    (entry,) = (await client.get(f"{C}/journal")).json()["entries"]
    assert "brief-key-123" not in json.dumps(entry)
    assert "[redacted]" in json.dumps(entry["body"])


async def test_queued_replies_get_distinct_names_when_queued_at_once(
    client: httpx.AsyncClient,
) -> None:
    async with anyio.create_task_group() as tasks:
        for n in range(8):
            tasks.start_soon(
                functools.partial(client.post, f"{C}/queue", json={"text": f"reply {n}"})
            )
    names = (await client.get(f"{C}/queue")).json()["queue"]
    assert sorted(names) == sorted({f"queued-{n}" for n in range(1, 9)})
