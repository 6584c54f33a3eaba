"""scenarios.checks and the bounds where they hold: placeholders known, replies bounded when
loaded or queued and when rendered, YAML aliases bounded, headers checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from vivi_emulator.errors import ReplyTooLarge
from vivi_emulator.scenarios.checks import (
    MAX_REPLY_CHARS,
    MAX_REPLY_EVENTS,
    chunk_count,
    scenario_problems,
)
from vivi_emulator.scenarios.context import RequestContext
from vivi_emulator.scenarios.engine import build_script
from vivi_emulator.scenarios.loader import parse_file
from vivi_emulator.scenarios.model import Chunking, Scenario
from vivi_emulator.scenarios.template import render
from vivi_emulator.scenarios.yaml_lines import MAX_ALIASED_NODES
from vivi_emulator.script import CHUNK

from tests.support import THREAD


def _scenario(**fields: object) -> Scenario:
    return Scenario.model_validate({"name": "s", **fields})


def _ctx(message: str) -> RequestContext:
    return RequestContext("demo-channel", message, THREAD, None, (), 1, {})


@pytest.mark.parametrize(
    ("text", "chunking", "count"),
    [
        ("one two three", Chunking(), 3),
        ("one internationalization", Chunking(), 6),  # tokens: "one", " inte", "rnat", ...
        ("one internationalization", Chunking(tokens=4), 2),
        ("one two three", Chunking(words=2), 2),
        ("abcdefg", Chunking(chars=3), 3),
        ("", Chunking(chars=3), 1),
    ],
)
def test_chunk_count_agrees_with_the_engine(text: str, chunking: Chunking, count: int) -> None:
    assert chunk_count(text, chunking) == count
    script = build_script(_scenario(text=text or "x", chunking=chunking), _ctx("m"))
    if text:
        assert sum(1 for e in script.events if e.event == CHUNK) == count


def test_problems_name_placeholders_and_bounds() -> None:
    assert scenario_problems(_scenario(text="hi {{ message }}")) == []
    (unknown,) = scenario_problems(_scenario(text="hi {{ nope }}"))
    assert unknown.startswith("unknown placeholder {{nope}}")
    # A long text of whole words (one chunk each): the characters alone are over the bound.
    one_word = {"words": MAX_REPLY_CHARS}
    (large,) = scenario_problems(_scenario(text="x" * (MAX_REPLY_CHARS + 1), chunking=one_word))
    limit = f"the limit is {MAX_REPLY_CHARS} characters"
    assert large == f"the reply is {MAX_REPLY_CHARS + 1} characters; {limit}"
    many = _scenario(events=[{"event": "on_tool_start"}] * MAX_REPLY_EVENTS)
    (events,) = scenario_problems(many)
    assert events.startswith(f"the reply is {MAX_REPLY_EVENTS + 2} events")
    body = _scenario(status={"code": 500, "body": {"detail": "x" * MAX_REPLY_CHARS}})
    assert len(scenario_problems(body)) == 1
    long_turn = {"text": "x" * (MAX_REPLY_CHARS + 1), "chunking": one_word}
    turns = _scenario(turns=[{"text": "ok"}, long_turn])
    assert len(scenario_problems(turns)) == 1
    # In tokens (the default), so long a word is also too many events.
    assert len(scenario_problems(_scenario(text="x" * (MAX_REPLY_CHARS + 1)))) == 2


def test_render_stops_before_building_a_reply_over_its_limit() -> None:
    values = {"message": "x" * 1000}
    assert render("{{ message }}!", values, 1001) == "x" * 1000 + "!"
    with pytest.raises(ReplyTooLarge):
        render("{{ message }}!", values, 1000)
    assert render("{{ message }}" * 3, values) == "x" * 3000  # no limit given


def test_a_templated_reply_is_bounded_when_rendered() -> None:
    scenario = _scenario(text="{{ message }}" * 20, events=None)
    script = build_script(scenario, _ctx("x" * 1000))
    assert script.reply == "x" * 20_000
    with pytest.raises(ReplyTooLarge) as caught:
        build_script(scenario, _ctx("x" * (MAX_REPLY_CHARS // 10)))
    assert caught.value.detail.startswith("scenario 's': its reply would pass the limit")
    by_chars = _scenario(text="{{ message }}", chunking={"chars": 1})
    with pytest.raises(ReplyTooLarge) as caught:
        build_script(by_chars, _ctx("x" * (MAX_REPLY_EVENTS + 1)))
    assert "events" in caught.value.detail


@pytest.mark.parametrize(
    ("yaml_text", "line", "reason"),
    [
        ("a: &a [1, *a]\n", 1, "alias *a refers to a node from inside it"),
        (
            "a: &a [" + ",".join(["0"] * 1000) + "]\nb: [" + ",".join(["*a"] * 101) + "]\n",
            2,
            f"aliases expand the file by more than {MAX_ALIASED_NODES} nodes",
        ),
    ],
)
def test_aliases_are_bounded(tmp_path: Path, yaml_text: str, line: int, reason: str) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(yaml_text)
    scenarios, (problem,) = parse_file(path)
    assert scenarios == []
    assert problem.line == line
    assert problem.reason.startswith(reason)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"X-A": "1\r\n2"}, "header 'X-A': the value holds a control character"),
        ({"X-A": "\x7f"}, "header 'X-A': the value holds a control character"),
        ({"": "1"}, "header name '' is not an HTTP header name"),
        ({"X A": "1"}, "header name 'X A' is not an HTTP header name"),
        ({"Transfer-Encoding": "chunked"}, "header 'Transfer-Encoding' frames the response"),
        ({"X-A": "€"}, "header 'X-A': the value must be Latin-1 text"),
    ],
)
def test_response_headers_are_checked(headers: dict[str, str], reason: str) -> None:
    for fields in (
        {"text": "x", "headers": headers},
        {"status": {"code": 503, "headers": headers}},
    ):
        with pytest.raises(ValidationError) as caught:
            _scenario(**fields)
        assert reason in str(caught.value)
    assert _scenario(text="x", headers={"X-Tab": "a\tb", "X-Latin": "café"}).headers
