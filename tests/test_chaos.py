"""Faults at a rate: seeded, per request, journaled, and never on a request that named its
answer; over HTTP, on both state stores."""

from __future__ import annotations

import logging
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from vivi_emulator.app import create_app
from vivi_emulator.chaos import ChaosSettings, DisconnectFault, StatusFault, _at, draw
from vivi_emulator.service import Emulator
from vivi_emulator.settings import Settings, load_settings

from tests.support import AUTH, THREAD, serving, sse_events, url

C = "/_emulator"
RATE_429 = {"seed": 7, "faults": [{"kind": "status", "code": 429, "rate": 0.2}]}


def threads(count: int, prefix: str = "0000") -> list[str]:
    return [f"{prefix}0000-0000-4000-8000-{i:012d}" for i in range(count)]


@pytest.fixture
async def client(state: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(access_log=True, reload_fixtures=False, state=state)
    async with serving(settings) as client:
        yield client


async def invoke(
    client: httpx.AsyncClient, thread: str = THREAD, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"message": "hi", "threadId": thread}
    return await client.post(url("invoke"), headers={**AUTH, **(headers or {})}, json=body)


async def limited(client: httpx.AsyncClient, count: int = 500) -> list[str]:
    """The threads whose one request got a 429."""
    hit = []
    for thread in threads(count):
        response = await invoke(client, thread)
        assert response.status_code in (200, 429)
        if response.status_code == 429:
            assert response.headers["retry-after"] == "1"
            hit.append(thread)
    return hit


async def test_a_rate_of_429_hits_that_share_the_same_requests_per_seed(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.put(f"{C}/chaos", json=RATE_429)).status_code == 200
    first = await limited(client)
    assert 75 <= len(first) <= 125  # 20 % of 500, give or take
    entries = (await client.get(f"{C}/journal", params={"limit": 1000})).json()["entries"]
    journaled = [e for e in entries if e["status"] == 429]
    assert [e["thread"] for e in journaled] == first
    assert {(e["chosen_by"], e["fault"], e["scenario"]) for e in journaled} == {
        ("chaos", "status 429", "greeting")
    }
    assert all(
        e["chosen_by"] == "match" and e["fault"] is None for e in entries if e["status"] == 200
    )

    await client.post(f"{C}/reset")
    await client.put(f"{C}/chaos", json=RATE_429)
    assert await limited(client) == first  # the same seed, the same requests: the same faults
    await client.post(f"{C}/reset")
    await client.put(f"{C}/chaos", json={**RATE_429, "seed": 8})
    assert await limited(client) != first


async def test_a_retried_request_is_drawn_again(client: httpx.AsyncClient) -> None:
    await client.put(
        f"{C}/chaos", json={"seed": 1, "faults": [{"kind": "status", "code": 503, "rate": 0.5}]}
    )
    statuses = [(await invoke(client)).status_code for _ in range(20)]
    assert 503 in statuses
    assert 200 in statuses
    turns = [e["turn"] for e in (await client.get(f"{C}/journal")).json()["entries"]]
    # A status answer gives its turn back: the thread's turns count only the answered ones.
    answered = statuses.index(200)
    assert turns[answered] == 1


async def test_named_answers_are_left_alone_unless_asked(client: httpx.AsyncClient) -> None:
    always = {"seed": 1, "faults": [{"kind": "status", "code": 500, "rate": 1}]}
    await client.put(f"{C}/chaos", json=always)
    assert (await invoke(client)).status_code == 500
    assert (await invoke(client, headers={"x-vivi-scenario": "echo"})).status_code == 200
    await client.post(f"{C}/queue", json={"text": "queued"})
    assert (await invoke(client)).json()["message"] == "queued"
    await client.put(f"{C}/forced", json={"scenario": "echo"})
    assert (await invoke(client)).status_code == 200
    await client.put(f"{C}/chaos", json={**always, "include_named": True})
    assert (await invoke(client)).status_code == 500


async def test_a_stream_fault_breaks_the_stream_and_is_a_500_on_invoke(
    client: httpx.AsyncClient,
) -> None:
    await client.put(f"{C}/chaos", json={"seed": 3, "faults": [{"kind": "no_end", "rate": 1}]})
    body = {"message": "hello", "threadId": THREAD}
    streamed = await client.post(url("stream"), headers=AUTH, json=body)
    names = [e["event"] for e in sse_events(streamed.content)]
    assert names[0] == "on_chat_model_start"
    assert "on_chat_model_end" not in names
    invoked = await invoke(client, str(uuid.uuid4()))
    assert invoked.status_code == 500
    assert "without on_chat_model_end" in invoked.json()["detail"]
    entries = (await client.get(f"{C}/journal")).json()["entries"]
    assert [(e["chosen_by"], e["fault"]) for e in entries] == [("chaos", "no end event")] * 2


async def test_a_disconnect_comes_after_a_random_number_of_events(
    client: httpx.AsyncClient,
) -> None:
    await client.put(f"{C}/chaos", json={"seed": 3, "faults": [{"kind": "disconnect", "rate": 1}]})
    for thread in threads(8):
        await invoke(client, thread)
    faults = [e["fault"] for e in (await client.get(f"{C}/journal")).json()["entries"]]
    counts = {int(f.split()[2]) for f in faults}
    assert all(f.startswith("disconnect after ") for f in faults)
    assert len(counts) > 1, "the break point varies"
    # Past the start, before the end: the greeting to "hi" is 18 events.
    assert all(1 <= n <= 17 for n in counts), counts


async def test_a_batch_with_a_chaos_status_answers_that_status(client: httpx.AsyncClient) -> None:
    await client.put(
        f"{C}/chaos", json={"seed": 1, "faults": [{"kind": "status", "code": 429, "rate": 1}]}
    )
    batch = await client.post(
        url("batch"), headers=AUTH, json={"messages": [{"message": "hi", "threadId": THREAD}]}
    )
    assert batch.status_code == 429
    (entry,) = (await client.get(f"{C}/journal")).json()["entries"]
    assert entry["items"][0]["fault"] == "status 429"


async def test_chaos_per_channel_run_time_and_reset(client: httpx.AsyncClient) -> None:
    await client.post(f"{C}/channels", json={"id": "other", "key": "other-key"})
    always = {"seed": 1, "faults": [{"kind": "status", "code": 500, "rate": 1}]}
    state = await client.put(f"{C}/chaos", params={"channel": "other"}, json=always)
    assert state.json()["source"] == "run time"
    assert state.json()["description"] == "100 % status 500 (seed 1)"
    assert (await invoke(client)).status_code == 200
    other = await client.post(
        url("invoke", "other"),
        headers={"vivi-api-key": "other-key"},
        json={"message": "hi", "threadId": THREAD},
    )
    assert other.status_code == 500
    assert (await client.get(f"{C}/chaos")).json()["chaos"] is None
    await client.post(f"{C}/reset")
    assert (await client.get(f"{C}/chaos", params={"channel": "other"})).json()["chaos"] is None


async def test_the_access_line_says_what_chaos_did(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    await client.put(
        f"{C}/chaos", json={"seed": 1, "faults": [{"kind": "status", "code": 429, "rate": 1}]}
    )
    with caplog.at_level(logging.INFO, logger="vivi_emulator.access"):
        await invoke(client)
    (line,) = [r.getMessage() for r in caplog.records if "/invoke" in r.getMessage()]
    assert line.endswith('chaos="status 429"'), line
    assert "status=429" in line


async def test_a_bad_chaos_setting_is_a_422_naming_it(client: httpx.AsyncClient) -> None:
    over = {"faults": [{"kind": "status", "rate": 0.7}, {"kind": "disconnect", "rate": 0.7}]}
    response = await client.put(f"{C}/chaos", json=over)
    assert response.status_code == 422
    assert "add up to 1.4" in response.text
    unknown = await client.put(f"{C}/chaos", json={"faults": [{"kind": "meteor", "rate": 0.1}]})
    assert unknown.status_code == 422


def test_the_issues_settings_shape_loads(tmp_path: Path) -> None:
    config = tmp_path / "emulator.yaml"
    config.write_text(
        "chaos:\n"
        "  seed: 7\n"
        "  faults:\n"
        "    - {kind: status, code: 429, rate: 0.05}   # with Retry-After\n"
        "    - {kind: disconnect, rate: 0.03}          # after a random number of events\n"
        "channels:\n"
        "  - {id: calm, key: calm-key, chaos: {faults: []}}\n"
    )
    settings = load_settings(config, environ={})
    assert settings.chaos == ChaosSettings(
        seed=7, faults=(StatusFault(code=429, rate=0.05), DisconnectFault(rate=0.03))
    )
    emulator = Emulator(settings.model_copy(update={"reload_fixtures": False}))
    assert emulator.run_time.configured_chaos("calm") is None  # a channel's own: none
    assert emulator.run_time.configured_chaos("x") == settings.chaos


def test_the_draw_depends_on_seed_channel_thread_and_attempt_only() -> None:
    chaos = ChaosSettings(faults=(StatusFault(code=429, rate=0.5),))

    def hits(setting: ChaosSettings, run_seed: int = 0, channel: str = "c") -> list[bool]:
        return [
            draw(setting, run_seed, channel, t, attempt) is not None
            for t in threads(50)
            for attempt in (1, 2)
        ]

    first = hits(chaos)
    assert first == hits(chaos)
    assert first != hits(chaos, run_seed=1)
    assert first != hits(chaos, channel="d")
    assert first[0::2] != first[1::2]  # a retry (the next attempt) is drawn again
    # The setting's own seed wins over the run's.
    seeded = chaos.model_copy(update={"seed": 5})
    assert hits(seeded, run_seed=0) == hits(seeded, run_seed=9)


def test_a_preset_and_faults_together_are_refused() -> None:
    assert ChaosSettings(preset="flaky").describe().startswith("5 % status 429, 2 % status 500")
    with pytest.raises(ValidationError, match="faults or a preset"):
        ChaosSettings.model_validate(
            {"preset": "flaky", "faults": [{"kind": "no_end", "rate": 0.1}]}
        )
    # A dump (what the shared store keeps) loads back.
    flaky = ChaosSettings(preset="flaky")
    assert ChaosSettings.model_validate_json(flaky.model_dump_json()) == flaky


async def test_a_wire_fault_puts_the_kits_bytes_on_a_share_of_streams(
    client: httpx.AsyncClient,
) -> None:
    # Issue 15's "as chaos kinds": a wire option by the kit's name, at a rate.
    setting = {"seed": 5, "faults": [{"kind": "wire", "name": "crlf", "rate": 1}]}
    assert (await client.put(f"{C}/chaos", json=setting)).status_code == 200
    body = {"message": "hello", "threadId": THREAD}
    streamed = await client.post(url("stream"), headers=AUTH, json=body)
    assert streamed.content.startswith(
        b'data: {"message": "", "event": "on_chat_model_start"}\r\n\r\n'
    )
    assert b"\n\n" not in streamed.content.replace(b"\r\n", b"")
    (entry,) = (await client.get(f"{C}/journal")).json()["entries"]
    assert (entry["chosen_by"], entry["fault"]) == ("chaos", "wire crlf")
    # /invoke takes no line endings: its answer is whole.
    assert (await invoke(client, str(uuid.uuid4()))).status_code == 200


async def test_a_gateway_timeout_by_chaos_answers_the_intermediarys_status() -> None:
    chaos = ChaosSettings.model_validate(
        {"faults": [{"kind": "wire", "name": "gateway-timeout", "rate": 1}]}
    )
    settings = Settings(access_log=False, reload_fixtures=False, time_scale=0.001, chaos=chaos)
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator.test") as client:
        response = await invoke(client)
        assert response.status_code == 524  # Cloudflare's, after its (scaled) 100 s
        assert response.headers["content-type"].startswith("text/html")
        (entry,) = (await client.get(f"{C}/journal")).json()["entries"]
        assert entry["fault"] == "wire gateway-timeout"


def test_an_unknown_wire_fault_is_refused_with_the_known_names() -> None:
    with pytest.raises(ValidationError, match=r"unknown wire fault 'lf-only'; known: .*crlf"):
        ChaosSettings.model_validate({"faults": [{"kind": "wire", "name": "lf-only", "rate": 1}]})


@pytest.mark.parametrize(
    ("fault", "journaled", "broken"),
    [
        ({"kind": "malformed", "after_events": 2}, "malformed frame after 2 events", "malformed"),
        ({"kind": "error_event", "after_events": 3}, "error event after 3 events", "error event"),
        ({"kind": "stall", "after_events": 1, "ms": 1}, "stall of 1 ms after 1 events", None),
    ],
)
async def test_each_stream_fault_kind_is_made_where_asked(
    client: httpx.AsyncClient, fault: dict[str, object], journaled: str, broken: str | None
) -> None:
    await client.put(f"{C}/chaos", json={"seed": 2, "faults": [{**fault, "rate": 1}]})
    body = {"message": "hello", "threadId": THREAD}
    streamed = await client.post(url("stream"), headers=AUTH, json=body)
    frames = streamed.content.split(b"\n\n")
    if fault["kind"] == "malformed":
        assert frames[2] == b"data: {this is not json"
    elif fault["kind"] == "error_event":
        assert frames[3] == b'data: {"message": "the agent failed", "event": "on_chain_error"}'
        assert frames[4:] == [b""]  # the stream ends with the error
    else:  # a stall only delays: the whole reply arrives, in order
        assert frames[-2] == b'data: {"message": "", "event": "on_chat_model_end"}'
    invoked = await invoke(client, str(uuid.uuid4()))
    if broken is None:
        assert invoked.status_code == 200
    else:
        assert invoked.status_code == 500
        assert broken in invoked.json()["detail"]
    entries = (await client.get(f"{C}/journal")).json()["entries"]
    assert entries[0]["fault"] == journaled


def test_each_fault_gets_its_own_share_of_the_draw() -> None:
    """The draw is cumulative: with two faults of rate 0.5, every request gets one of them,
    each about half the time (a draw that compared each rate alone would never reach the
    second)."""
    setting = ChaosSettings.model_validate(
        {
            "seed": 3,
            "faults": [
                {"kind": "status", "code": 429, "rate": 0.5},
                {"kind": "status", "code": 503, "rate": 0.5},
            ],
        }
    )
    drawn = [draw(setting, 0, "c", "t", attempt) for attempt in range(400)]
    kinds = Counter(
        injection.status.status_code if injection and injection.status else None
        for injection in drawn
    )
    assert kinds[None] == 0
    assert 140 < kinds[429] < 260
    assert 140 < kinds[503] < 260


def test_a_random_break_point_is_after_the_start_and_before_the_end() -> None:
    """Between the first event and the last (the client saw the stream begin, not end), and
    every such point is reachable."""
    points = {_at(None, 10, random.Random(seed)) for seed in range(400)}
    assert points == set(range(1, 10))
    assert {_at(None, 2, random.Random(seed)) for seed in range(50)} == {1}
    assert _at(4, 10, random.Random(0)) == 4
    assert _at(40, 10, random.Random(0)) == 10  # never past the reply's last event
