"""Recorded frames: replayed byte for byte, at their times (scaled), and joined by /invoke."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from vivi_emulator.app import create_app
from vivi_emulator.scenarios.context import RequestContext
from vivi_emulator.scenarios.engine import BuildOptions, build_script
from vivi_emulator.scenarios.loader import ScenarioSet
from vivi_emulator.scenarios.model import Scenario
from vivi_emulator.settings import Settings

from tests.support import AUTH, THREAD, url

# Deliberately unlike the emulator's own encoding: compact separators, keys reversed, and a
# frame that is not `data: ...` alone.
FRAMES: list[dict[str, Any]] = [
    {"after_ms": 40, "data": '{"event":"on_chat_model_start","message":""}'},
    {"after_ms": 20, "data": '{"event":"on_chat_model_stream","message":"Hel"}'},
    {"after_ms": 0, "raw": ": a comment\ndata: {\"event\": \"on_chat_model_stream\", "
     "\"message\": \"lo \\u00e9\"}\n\n"},
    {"after_ms": 10, "data": '{"event":"on_tool_start","message":"ignored by invoke"}'},
    {"after_ms": 30, "data": '{"event":"on_chat_model_end","message":""}'},
]  # fmt: skip
WIRE = (
    b'data: {"event":"on_chat_model_start","message":""}\n\n'
    b'data: {"event":"on_chat_model_stream","message":"Hel"}\n\n'
    b': a comment\ndata: {"event": "on_chat_model_stream", "message": "lo \\u00e9"}\n\n'
    b'data: {"event":"on_tool_start","message":"ignored by invoke"}\n\n'
    b'data: {"event":"on_chat_model_end","message":""}\n\n'
)


def scenario(frames: list[dict[str, Any]], **extra: Any) -> Scenario:
    return Scenario.model_validate({"name": "recorded", "frames": frames, **extra})


def ctx() -> RequestContext:
    return RequestContext("c", "hi", THREAD, None, (), 1, {})


def test_frames_play_their_bytes_at_their_times() -> None:
    script = build_script(scenario(FRAMES), ctx())
    assert b"".join(e.raw or b"" for e in script.events) == WIRE
    assert [e.delay for e in script.events] == [0.04, 0.02, 0.0, 0.01, 0.03]
    assert script.reply == "Hello \u00e9"
    assert script.broken is None


def test_time_scale_scales_every_delay() -> None:
    script = build_script(scenario(FRAMES), ctx(), BuildOptions(time_scale=0.5))
    assert [e.delay for e in script.events] == [0.02, 0.01, 0.0, 0.005, 0.015]
    stall = {"stall": {"after_events": 1, "ms": 200}}
    text = Scenario.model_validate(
        {"name": "t", "text": "a b", "timing": {"chunk_ms": 100}, "fault": stall}
    )
    delays = [e.delay for e in build_script(text, ctx(), BuildOptions(time_scale=2)).events]
    assert delays == pytest.approx([0.0, 0.6, 0.2, 0.2])


@pytest.mark.parametrize(
    ("frames", "why"),
    [
        ([*FRAMES[:2], {"data": "{not json"}, FRAMES[-1]], "a malformed event"),
        (FRAMES[:-1], "the stream ended without on_chat_model_end"),
    ],
)
def test_a_broken_recording_is_broken_for_invoke(frames: list[dict[str, Any]], why: str) -> None:
    assert build_script(scenario(frames), ctx()).broken == why


def test_a_dropped_recording_aborts_after_its_frames() -> None:
    script = build_script(scenario(FRAMES[:3], fault={"close_after_events": 3}), ctx())
    assert script.abort
    assert len(script.events) == 3


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "x", "frames": [{"data": "a", "raw": "b"}]},
        {"name": "x", "frames": [{}]},
        {"name": "x", "frames": [{"data": "a", "after_ms": -1}]},
        {"name": "x", "frames": [], "text": "also text"},
    ],
)
def test_invalid_frames_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Scenario.model_validate(bad)


@pytest.fixture
async def recorded_client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(access_log=False, reload_fixtures=False, time_scale=0.1))
    app.state.emulator.scenarios = ScenarioSet(
        (
            scenario(FRAMES, match={"message": "hi"}, headers={"x-request-id": "abc"}),
            scenario(FRAMES[:-1], name="cut", match={"message": "cut"}),
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://e.test") as client:
        yield client


async def test_stream_and_invoke_replay_a_recording(recorded_client: httpx.AsyncClient) -> None:
    body = {"message": "hi", "threadId": THREAD}
    streamed = await recorded_client.post(url("stream"), headers=AUTH, json=body)
    assert streamed.content == WIRE
    assert streamed.headers["x-request-id"] == "abc"
    invoked = await recorded_client.post(url("invoke"), headers=AUTH, json=body)
    assert invoked.json() == {"message": "Hello \u00e9", "threadId": THREAD}
    cut = await recorded_client.post(url("invoke"), headers=AUTH, json={**body, "message": "cut"})
    assert cut.status_code == 500
    assert "without on_chat_model_end" in cut.json()["detail"]


def _wire_scenario(**extra: Any) -> dict[str, Any]:
    frames = Scenario.model_validate({"name": "x", "frames": FRAMES}).frames or []
    total = sum(len(frame.encoded) for frame in frames)
    chunks = [{"after_ms": 5, "size": 7}, {"after_ms": 25, "size": total - 7}]
    return {"name": "wired", "frames": FRAMES, "replay": "wire", "chunks": chunks, **extra}


def test_replay_wire_plays_the_recorded_chunks_as_exact_writes() -> None:
    scenario = Scenario.model_validate(_wire_scenario())
    ctx = RequestContext("demo-channel", "hi", THREAD, None, (), 1, {})
    script = build_script(scenario, ctx, BuildOptions(time_scale=2.0))
    assert script.wire is not None
    assert script.wire.writes is not None
    stream = b"".join(frame.encoded for frame in scenario.frames or ())
    writes = [(delay, data) for delay, data, _ in script.wire.writes]
    assert writes == [(0.01, stream[:7]), (0.05, stream[7:])]  # scaled: 5 and 25 ms, twice
    # The journal: each frame with the write that completes it (all in the last here).
    assert [len(done) for _, _, done in script.wire.writes] == [0, len(FRAMES)]
    assert script.reply == "Hello é"  # /invoke reads the events, as without replay: wire


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"chunks": [{"after_ms": 0, "size": 3}]}, "chunks must add up to the frames'"),
        ({"chunks": None}, "replay: wire needs the recorded chunks"),
        ({"wire": {"line_ending": "crlf"}}, "give no wire options"),
        ({"fault": {"omit_end": True}}, "one fault: close_after_events"),
    ],
)
def test_replay_wire_is_checked_when_loaded(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Scenario.model_validate(_wire_scenario(**change))
    with pytest.raises(ValidationError, match="chunks belong to recorded frames"):
        Scenario.model_validate({"name": "t", "text": "hi", "chunks": [{"size": 1}]})
