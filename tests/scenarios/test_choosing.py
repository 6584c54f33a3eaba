"""Choosing a scenario by name or by match: the matchers, names, and what no match leaves."""

from __future__ import annotations

from typing import Any

import pytest

from vivi_emulator.conversations import choose
from vivi_emulator.errors import ValidationFailed
from vivi_emulator.scenarios.choosing import matched, named
from vivi_emulator.scenarios.context import RequestContext
from vivi_emulator.scenarios.loader import ScenarioSet
from vivi_emulator.scenarios.model import Scenario

from tests.support import ctx


def scenario_set(*scenarios: dict[str, Any]) -> ScenarioSet:
    return ScenarioSet(tuple(Scenario.model_validate(s) for s in scenarios))


SET = scenario_set(
    {"name": "exact", "match": {"message": "ping"}, "text": "pong"},
    {
        "name": "contains",
        "match": {"message": {"contains": "ORDER", "ignore_case": True}},
        "text": "o",
    },
    {"name": "regex", "match": {"message": {"regex": r"^\d+$"}}, "text": "number"},
    {"name": "channel", "match": {"channel": "vip"}, "text": "vip"},
    {"name": "second-turn", "match": {"turn": 2}, "text": "t2"},
    {"name": "later-turns", "match": {"turn": {"min": 5, "max": 6}}, "text": "t5"},
    {"name": "with-files", "match": {"files": True}, "text": "files"},
    {"name": "header", "match": {"headers": {"X-Case": {"regex": "^a+$"}}}, "text": "h"},
    {"name": "by-name-only", "text": "named"},
    {"name": "fallback", "default": True, "text": "default"},
)


@pytest.mark.parametrize(
    ("request_ctx", "expected"),
    [
        (ctx("ping"), "exact"),
        (ctx("ping "), "fallback"),  # exact means exact
        (ctx("my Order is late"), "contains"),
        (ctx("12345"), "regex"),
        (ctx("12a"), "fallback"),
        (ctx(channel_id="vip"), "channel"),
        (ctx(turn=2), "second-turn"),
        (ctx(turn=5), "later-turns"),
        (ctx(turn=6), "later-turns"),
        (ctx(turn=7), "fallback"),
        (ctx(attached_files=["https://x/a.pdf"]), "with-files"),
        (ctx(headers={"x-case": "aaa"}), "header"),
        (ctx(headers={"x-case": "b"}), "fallback"),
        (ctx("ping", turn=2), "exact"),  # first match wins
    ],
)
def test_matchers(request_ctx: RequestContext, expected: str) -> None:
    assert matched(SET, request_ctx)[0].name == expected


def test_named_scenario_is_forced_by_name() -> None:
    assert named(SET, "by-name-only", None) == (SET.get("by-name-only"), "header")
    assert named(SET, None, "by-name-only") == (SET.get("by-name-only"), "forced")
    assert named(SET, None, None) is None


def test_a_named_scenario_wins_over_a_match() -> None:
    choice = choose(SET, ctx("ping", headers={"x-vivi-scenario": "by-name-only"}), None)
    assert (choice.scenario.name, choice.chosen_by) == ("by-name-only", "header")


def test_unknown_forced_name_is_422_listing_known_names() -> None:
    with pytest.raises(ValidationFailed) as raised:
        named(SET, "nope", None)
    assert raised.value.status_code == 422
    assert "nope" in raised.value.detail
    assert "by-name-only" in raised.value.detail


def test_no_match_and_no_default_is_a_clear_error() -> None:
    with pytest.raises(ValidationFailed, match="no default"):
        matched(scenario_set({"name": "a", "match": {"message": "x"}, "text": "y"}), ctx())
