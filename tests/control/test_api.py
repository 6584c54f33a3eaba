"""The control API under /_emulator: reset, journal, queue, scenarios, channels and keys."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from vivi_emulator.app import create_app
from vivi_emulator.settings import Settings

from tests.support import AUTH, OTHER_THREAD, THREAD, url

C = "/_emulator"
BODY = {"message": "hello", "threadId": THREAD}


async def test_journal_records_every_request_without_the_key(client: httpx.AsyncClient) -> None:
    secret = "demo-key"
    await client.post(url("stream"), headers=AUTH, json=BODY)
    await client.post(url("invoke"), headers=AUTH, json={"message": "x", "threadId": OTHER_THREAD})
    await client.post(url("invoke"), headers={"vivi-api-key": "wrong-key-123"}, json=BODY)
    await client.post(
        url("invoke"),
        headers=AUTH,
        content=b"{broken",
    )
    await client.post(url("files"), headers=AUTH, files={"files": ("a.txt", b"abc", "text/plain")})
    await client.post(
        url("batch"), headers={**AUTH, "x-vivi-scenario": "rate-limited"}, json={"messages": [BODY]}
    )
    response = await client.get(f"{C}/journal")
    entries = response.json()["entries"]
    assert [e["status"] for e in entries] == [200, 200, 401, 415, 200, 429]
    stream = entries[0]
    assert stream["path"] == "/channelsApi/demo-channel/stream"
    assert stream["channel"] == "demo-channel"
    assert stream["body"] == BODY
    assert stream["scenario"] == "greeting"
    assert stream["chosen_by"] == "match"
    assert stream["events"][0] == {"message": "", "event": "on_chat_model_start"}
    assert stream["events"][-1] == {"message": "", "event": "on_chat_model_end"}
    assert entries[1]["chosen_by"] == "default"
    assert entries[2]["error"] == "invalid API key"
    assert entries[4]["body"] == {
        "files": [{"name": "a.txt", "content_type": "text/plain", "size": 3}]
    }
    assert entries[5]["chosen_by"] == "header"
    text = response.text
    assert secret not in text
    assert "wrong-key-123" not in text
    assert all(e["headers"]["vivi-api-key"] == "[redacted]" for e in entries)


async def test_a_key_pasted_into_a_message_is_redacted_too(client: httpx.AsyncClient) -> None:
    body = {"message": "my key is demo-key, help", "threadId": THREAD}
    await client.post(url("stream"), headers=AUTH, json=body)
    response = await client.get(f"{C}/journal")
    assert "demo-key" not in response.text
    entry = response.json()["entries"][0]
    assert entry["body"]["message"] == "my key is [redacted], help"
    assert any("[redacted]" in e.get("message", "") for e in entry["events"])


async def test_journal_filters(client: httpx.AsyncClient) -> None:
    await client.post(url("stream"), headers=AUTH, json=BODY)
    await client.post(url("invoke"), headers=AUTH, json={"message": "x", "threadId": OTHER_THREAD})
    by_thread = (await client.get(f"{C}/journal", params={"thread": OTHER_THREAD})).json()
    assert [e["path"].rsplit("/", 1)[1] for e in by_thread["entries"]] == ["invoke"]
    by_path = (await client.get(f"{C}/journal", params={"path": "stream"})).json()
    assert len(by_path["entries"]) == 1
    by_channel = (await client.get(f"{C}/journal", params={"channel": "other"})).json()
    assert by_channel["entries"] == []
    limited = (await client.get(f"{C}/journal", params={"limit": 1})).json()
    assert limited["entries"][0]["path"].endswith("/invoke")


@pytest.mark.parametrize("settings", [Settings(access_log=False, journal_size=3)])
async def test_journal_is_bounded(client: httpx.AsyncClient) -> None:
    for i in range(5):
        await client.post(
            url("invoke"), headers=AUTH, json={"message": f"m{i}", "threadId": THREAD}
        )
    entries = (await client.get(f"{C}/journal")).json()["entries"]
    assert [e["body"]["message"] for e in entries] == ["m2", "m3", "m4"]


async def test_queue_is_first_in_first_out_then_fixtures(client: httpx.AsyncClient) -> None:
    assert (await client.post(f"{C}/queue", json={"text": "first"})).status_code == 201
    await client.post(f"{C}/queue", json={"name": "second", "status": {"code": 503}})
    assert (await client.get(f"{C}/queue")).json()["queue"] == ["queued-1", "second"]
    one = await client.post(url("invoke"), headers=AUTH, json=BODY)
    two = await client.post(url("invoke"), headers=AUTH, json=BODY)
    three = await client.post(url("invoke"), headers=AUTH, json=BODY)
    assert one.json()["message"] == "first"
    assert two.status_code == 503
    assert three.json()["message"].startswith("Hello!")  # the fixtures again


async def test_queued_reply_waits_for_its_match(client: httpx.AsyncClient) -> None:
    await client.post(
        f"{C}/queue", json={"text": "for orders", "match": {"message": {"contains": "order"}}}
    )
    other = await client.post(url("invoke"), headers=AUTH, json=BODY)
    order = await client.post(
        url("invoke"), headers=AUTH, json={"message": "my order", "threadId": THREAD}
    )
    assert other.json()["message"].startswith("Hello!")
    assert order.json()["message"] == "for orders"


async def test_bad_queued_reply_is_422_naming_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{C}/queue", json={"txt": "typo"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "txt"


async def test_forced_scenario_until_reset(client: httpx.AsyncClient) -> None:
    assert (await client.put(f"{C}/forced", json={"scenario": "server-error"})).status_code == 200
    assert (await client.post(url("invoke"), headers=AUTH, json=BODY)).status_code == 500
    assert (await client.get(f"{C}/scenarios")).json()["forced"] == "server-error"
    assert (await client.put(f"{C}/forced", json={"scenario": "nope"})).status_code == 422
    await client.post(f"{C}/reset")
    assert (await client.post(url("invoke"), headers=AUTH, json=BODY)).status_code == 200


async def test_reset_forgets_threads_files_journal_and_queue(client: httpx.AsyncClient) -> None:
    upload = await client.post(url("files"), headers=AUTH, files={"files": ("a.txt", b"x")})
    await client.post(f"{C}/queue", json={"text": "q"})
    await client.post(url("invoke"), headers=AUTH, json=BODY)
    await client.post(f"{C}/queue", json={"text": "q2"})
    usage = (await client.get(f"{C}/usage")).json()["usage"]
    assert (usage["threads"], usage["files"], usage["queued"]) == (1, 1, 1)
    assert (await client.post(f"{C}/reset")).json() == {"done": True}
    usage = (await client.get(f"{C}/usage")).json()["usage"]
    assert usage == {"threads": 0, "files": 0, "file_bytes": 0, "journal_entries": 0, "queued": 0}
    assert (await client.get(upload.json()["urls"][0])).status_code == 404
    assert (await client.get(f"{C}/journal")).json()["entries"] == []


async def test_scenarios_list_and_reload(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("scenarios:\n  - {name: mine, text: one}\n")
    app = create_app(Settings(access_log=False, reload_fixtures=False, fixtures=(tmp_path,)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t.test"
    ) as c:
        listed = (await c.get(f"{C}/scenarios")).json()["scenarios"]
        assert listed[0] == {"name": "mine", "description": "", "matches": False, "default": False}
        assert {"name": "echo", "description": "The default answer, the message echoed back.",
                "matches": False, "default": True} in listed  # fmt: skip
        (tmp_path / "mine.yaml").write_text("scenarios:\n  - {name: mine2, text: two}\n")
        assert (await c.post(f"{C}/scenarios/reload")).status_code == 200
        assert (await c.get(f"{C}/scenarios")).json()["scenarios"][0]["name"] == "mine2"
        (tmp_path / "mine.yaml").write_text("scenarios: [\n")
        bad = await c.post(f"{C}/scenarios/reload")
        assert bad.status_code == 422
        assert "mine.yaml" in bad.json()["detail"]
        assert (await c.get(f"{C}/scenarios")).json()["scenarios"][0]["name"] == "mine2"


async def test_add_channel_and_rotate_key(client: httpx.AsyncClient) -> None:
    added = await client.post(f"{C}/channels", json={"id": "team", "key": "team-key-1"})
    assert added.status_code == 201
    team = {"vivi-api-key": "team-key-1"}
    assert (await client.post(url("invoke", "team"), headers=team, json=BODY)).status_code == 200
    assert (await client.post(f"{C}/channels", json={"id": "team"})).status_code == 422
    rotated = await client.post(f"{C}/channels/team/rotate", json={})
    new_key = rotated.json()["key"]
    assert len(new_key) >= 24
    assert (await client.post(url("invoke", "team"), headers=team, json=BODY)).status_code == 401
    fresh = {"vivi-api-key": new_key}
    assert (await client.post(url("invoke", "team"), headers=fresh, json=BODY)).status_code == 200
    assert (await client.get(f"{C}/channels")).json() == {"channels": ["demo-channel", "team"]}
    assert (await client.post(f"{C}/channels/nope/rotate", json={})).status_code == 404
    journal = (await client.get(f"{C}/journal")).text
    assert new_key not in journal
    assert "team-key-1" not in journal


async def test_remove_channel_forgets_it_and_everything_kept_for_it(
    client: httpx.AsyncClient,
) -> None:
    key = (await client.post(f"{C}/channels", json={"id": "gone"})).json()["key"]
    mine = {"vivi-api-key": key}
    waiting = {"text": "never used", "match": {"message": "something else"}}
    await client.post(f"{C}/queue", params={"channel": "gone"}, json=waiting)
    await client.put(f"{C}/forced", json={"scenario": "greeting", "channel": "gone"})
    assert (await client.post(url("invoke", "gone"), headers=mine, json=BODY)).status_code == 200
    assert (await client.post(url("invoke"), headers=AUTH, json=BODY)).status_code == 200
    assert (await client.delete(f"{C}/channels/gone")).json() == {"done": True}
    assert (await client.post(url("invoke", "gone"), headers=mine, json=BODY)).status_code == 404
    assert (await client.get(f"{C}/channels")).json() == {"channels": ["demo-channel"]}
    assert (await client.get(f"{C}/queue")).json()["queue"] == []
    # The 404 above is journaled too (for channel 'gone'); the removal cleared the rest.
    journal = (await client.get(f"{C}/journal")).json()["entries"]
    assert [(e["channel"], e["status"]) for e in journal] == [("demo-channel", 200), ("gone", 404)]
    again = await client.delete(f"{C}/channels/gone")
    assert again.status_code == 404
    assert again.json()["detail"] == "unknown channel 'gone'"


async def test_control_openapi_is_separate_from_the_contract(client: httpx.AsyncClient) -> None:
    control = (await client.get(f"{C}/openapi.json")).json()
    assert "/reset" in control["paths"]
    assert "/journal" in control["paths"]
    contract = (await client.get("/openapi.json")).json()
    assert not [p for p in contract["paths"] if "_emulator" in p or "reset" in p]


@pytest.mark.parametrize(
    ("token", "presented", "status"),
    [(None, None, 403), ("s3cret-admin", None, 401), ("s3cret-admin", "nope", 401),
     ("s3cret-admin", "s3cret-admin", 200)],
)  # fmt: skip
async def test_non_loopback_bind_needs_the_admin_token(
    token: str | None, presented: str | None, status: int
) -> None:
    settings = Settings.model_validate(
        {"host": "0.0.0.0", "admin_token": token, "access_log": False, "reload_fixtures": False}
    )
    app = create_app(settings)
    headers = {"x-vivi-admin-token": presented} if presented else {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t.test"
    ) as c:
        for method, path in (("POST", "/reset"), ("GET", "/journal"), ("POST", "/queue")):
            response = await c.request(method, f"{C}{path}", headers=headers, json={"text": "x"})
            assert response.status_code in {status, 201}, (path, response.text)
            if status != 200:
                assert response.status_code == status
                assert "admin" in response.json()["detail"]
        assert (await c.get(f"{C}/health")).status_code == 200  # health stays open
        if token:
            assert token not in json.dumps((await c.get(f"{C}/journal", headers=headers)).json())


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_hosts(host: str) -> None:
    from vivi_emulator.control.access import is_loopback

    assert is_loopback(host)
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("example.com")


async def test_the_journal_and_the_queue_are_cleared_whole_or_per_channel(
    client: httpx.AsyncClient,
) -> None:
    await client.post(f"{C}/channels", json={"id": "other", "key": "other-key"})
    await client.post(url("invoke"), headers=AUTH, json=BODY)
    other = {"vivi-api-key": "other-key"}
    await client.post(url("invoke", "other"), headers=other, json=BODY)
    mine = {"name": "mine", "text": "for other"}
    await client.post(f"{C}/queue", params={"channel": "other"}, json=mine)
    await client.post(f"{C}/queue", json={"name": "anyones", "text": "for anyone"})
    await client.delete(f"{C}/journal", params={"channel": "other"})
    entries = (await client.get(f"{C}/journal")).json()["entries"]
    assert [e["channel"] for e in entries] == ["demo-channel"]
    await client.delete(f"{C}/queue", params={"channel": "other"})
    assert (await client.get(f"{C}/queue")).json()["queue"] == ["anyones"]
    assert (await client.delete(f"{C}/journal")).json() == {"done": True}
    assert (await client.delete(f"{C}/queue")).json() == {"done": True}
    assert (await client.get(f"{C}/journal")).json()["entries"] == []
    assert (await client.get(f"{C}/queue")).json()["queue"] == []


@pytest.mark.parametrize(
    ("profile", "field", "reason"),
    [
        ({"first_event": -1000}, "profile.first_event", "greater than or equal to 0"),
        ({"first_event": 1e300}, "profile.first_event", "less than or equal to 600000"),
        ({"token_gap": {"distribution": "fixed", "ms": 1e9}}, "profile.token_gap.ms", "600000"),
    ],
)
async def test_a_latency_out_of_bounds_is_a_422_naming_the_field(
    client: httpx.AsyncClient, profile: dict[str, object], field: str, reason: str
) -> None:
    """Issue 21, item 3: was a 500 "internal emulator error"; a union's other members (the
    profile names) are not named, only the field that went wrong."""
    response = await client.put(f"{C}/latency", json={"profile": profile})
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == field
    assert reason in error["reason"]
    assert (await client.get(f"{C}/latency")).json()["source"] == "settings"
