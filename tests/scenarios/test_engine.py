"""Writing a chosen scenario's Script: chunking, timing, faults, templates, wire options."""

from __future__ import annotations

from typing import Any

import pytest

from vivi_emulator.errors import StatusReply
from vivi_emulator.scenarios.engine import BuildOptions, build_script
from vivi_emulator.scenarios.model import Scenario
from vivi_emulator.script import CHUNK, END, START
from vivi_emulator.store.values import Turn
from vivi_emulator.wire import Wire, WireOptions

from tests.support import THREAD, ctx


def scenario(**fields: Any) -> Scenario:
    return Scenario.model_validate({"name": "s", **fields})


def test_text_is_streamed_in_token_chunks_between_start_and_end() -> None:
    script = build_script(scenario(text="Hello, internationalization!"), ctx())
    assert [e.event for e in script.events] == [START, *[CHUNK] * 8, END]
    assert [e.message for e in script.events[1:-1]] == [
        "Hello",
        ",",
        " inte",
        "rnat",
        "iona",
        "liza",
        "tion",
        "!",
    ]
    assert script.reply == "Hello, internationalization!"


@pytest.mark.parametrize(
    ("chunking", "chunks"),
    [
        ({"tokens": 2}, ["a b", " c d", " e"]),
        ({"words": 1}, ["a ", "b ", "c ", "d ", "e"]),
        ({"words": 2}, ["a b ", "c d ", "e"]),
        ({"chars": 4}, ["a b ", "c d ", "e"]),
        ({"chars": 3}, ["a b", " c ", "d e"]),
    ],
)
def test_chunking(chunking: dict[str, int], chunks: list[str]) -> None:
    script = build_script(scenario(text="a b c d e", chunking=chunking), ctx())
    assert [e.message for e in script.events[1:-1]] == chunks


def test_explicit_events_with_tool_calls() -> None:
    script = build_script(
        scenario(
            events=[
                {"event": "on_tool_start", "message": "search"},
                {"event": "on_tool_end", "message": "found"},
                {"text": "the answer"},
            ]
        ),
        ctx(),
    )
    assert [(e.event, e.message) for e in script.events] == [
        (START, ""),
        ("on_tool_start", "search"),
        ("on_tool_end", "found"),
        (CHUNK, "the"),
        (CHUNK, " answer"),
        (END, ""),
    ]
    assert script.reply == "the answer"


def test_templating_of_request_fields_and_history() -> None:
    text = (
        "{{message}}|{{ threadId }}|{{userId}}|{{channelId}}|{{turn}}|{{files}}|{{file_count}}"
        "|{{previous_message}}|{{previous_reply}}"
    )
    script = build_script(
        scenario(text=text, chunking={"chars": 1000}),
        ctx(
            "hey",
            turn=2,
            user_id="11111111-2222-4333-8444-555555555555",
            attached_files=["http://h/channelsApi/c/files/id1/a.pdf", "http://h/x/b%20c.txt"],
            history=[Turn("first", "first reply")],
        ),
    )
    assert script.reply == (
        f"hey|{THREAD}|11111111-2222-4333-8444-555555555555|demo-channel|2|a.pdf, b c.txt|2"
        "|first|first reply"
    )


def test_conversation_turns_and_last_repeats() -> None:
    convo = scenario(turns=[{"text": "one"}, {"text": "two"}, {"status": {"code": 503}}])
    assert build_script(convo, ctx(turn=1)).reply == "one"
    assert build_script(convo, ctx(turn=2)).reply == "two"
    for turn in (3, 4):
        with pytest.raises(StatusReply) as raised:
            build_script(convo, ctx(turn=turn))
        assert raised.value.status_code == 503


def test_status_response_with_headers_and_default_body() -> None:
    with pytest.raises(StatusReply) as raised:
        build_script(scenario(status={"code": 429, "headers": {"Retry-After": "2"}}), ctx())
    assert raised.value.status_code == 429
    assert raised.value.headers == {"Retry-After": "2"}
    assert "rate limit" in raised.value.body()["detail"]


def test_timing_first_event_first_chunk_and_rate() -> None:
    script = build_script(
        scenario(
            text="a b c", timing={"first_event_ms": 100, "first_chunk_ms": 1000, "chunk_ms": 50}
        ),
        ctx(),
    )
    assert [e.delay for e in script.events] == [0.1, 1.0, 0.05, 0.05, 0.05]
    assert script.duration == pytest.approx(1.25)
    per_token = build_script(scenario(text="a b", timing={"tokens_per_second": 20}), ctx())
    assert [e.delay for e in per_token.events] == [0.0, 0.05, 0.05, 0.05]


def test_tokens_per_second_paces_tokens_not_chunks() -> None:
    # A chunk of one word that is five tokens waits five times as long as a one-token chunk.
    script = build_script(
        scenario(
            text="internationalization ok",
            chunking={"words": 1},
            timing={"tokens_per_second": 10},
        ),
        ctx(),
    )
    assert [e.message for e in script.events[1:-1]] == ["internationalization ", "ok"]
    assert [e.delay for e in script.events] == pytest.approx([0.0, 0.6, 0.1, 0.1])


def test_jitter_is_seeded_per_request() -> None:
    jittery = scenario(text="a b c d", timing={"chunk_ms": 10, "jitter_ms": 20})
    first = [e.delay for e in build_script(jittery, ctx(), BuildOptions(seed=7)).events]
    again = [e.delay for e in build_script(jittery, ctx(), BuildOptions(seed=7)).events]
    other_seed = [e.delay for e in build_script(jittery, ctx(), BuildOptions(seed=8)).events]
    other_turn = [e.delay for e in build_script(jittery, ctx(turn=2), BuildOptions(seed=7)).events]
    assert first == again
    assert first != other_seed
    assert first != other_turn
    assert all(0.01 <= d <= 0.03 for d in first[1:])


def test_fault_close_after_events() -> None:
    script = build_script(scenario(text="a b c d", fault={"close_after_events": 3}), ctx())
    assert [e.event for e in script.events] == [START, CHUNK, CHUNK]
    assert script.abort
    assert script.broken is not None


def test_fault_stall() -> None:
    script = build_script(
        scenario(text="a b", fault={"stall": {"after_events": 1, "ms": 5000}}), ctx()
    )
    assert [e.delay for e in script.events] == [0.0, 5.0, 0.0, 0.0]
    assert script.broken is None  # a stall is slow, not broken: /invoke waits for it


def test_fault_malformed_frame() -> None:
    script = build_script(scenario(text="a b", fault={"malformed": {"after_events": 2}}), ctx())
    assert script.events[2].raw == b"data: {this is not json\n\n"
    assert script.events[-1].event == END
    assert script.broken == "a malformed event"


def test_fault_error_event_ends_the_stream() -> None:
    script = build_script(
        scenario(text="a b c", fault={"error_event": {"after_events": 2, "message": "boom"}}), ctx()
    )
    assert [(e.event, e.message) for e in script.events] == [
        (START, ""),
        (CHUNK, "a"),
        ("on_chain_error", "boom"),
    ]


def test_fault_omit_end() -> None:
    script = build_script(scenario(text="a", fault={"omit_end": True}), ctx())
    assert [e.event for e in script.events] == [START, CHUNK]
    assert script.broken is not None


def test_wire_options_travel_on_the_script_with_the_scale_and_seed() -> None:
    s = scenario(text="hi", wire={"line_ending": "crlf"})
    script = build_script(s, ctx(), BuildOptions(seed=7, time_scale=0.5))
    assert script.wire is not None
    assert script.wire.options.line_ending == "crlf"
    assert (script.wire.time_scale, script.wire.seed) == (0.5, 7)
    assert build_script(scenario(text="hi"), ctx()).wire is None


def test_the_wire_setting_applies_only_to_scenarios_without_their_own() -> None:
    setting = WireOptions(preset="idle-cut")
    own = build_script(scenario(text="hi", wire={"bom": True}), ctx(), BuildOptions(wire=setting))
    assert own.wire is not None
    assert own.wire.options == WireOptions(bom=True)
    plain = scenario(text="hi")
    assert build_script(plain, ctx(), BuildOptions(wire=setting)).wire == Wire(setting)
    # The same constant scenario, cached, still answers per setting.
    assert build_script(plain, ctx(), BuildOptions()).wire is None


def test_a_turn_without_wire_takes_the_scenarios() -> None:
    s = scenario(
        wire={"line_ending": "cr"},
        turns=[{"text": "one"}, {"text": "two", "wire": {"line_ending": "crlf"}}],
    )
    first = build_script(s, ctx(turn=1)).wire
    second = build_script(s, ctx(turn=2)).wire
    assert first is not None
    assert second is not None
    assert (first.options.line_ending, second.options.line_ending) == ("cr", "crlf")


def test_a_status_scenario_ignores_the_wire_setting() -> None:
    s = scenario(status={"code": 429})
    with pytest.raises(StatusReply):
        build_script(s, ctx(), BuildOptions(wire=WireOptions(preset="gateway-timeout")))
