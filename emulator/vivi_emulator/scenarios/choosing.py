"""Choosing a scenario by name or by match.

After the one-shot queue (which the service consults first) and the thread's conversation
(which ``conversations.choose`` places between the named and the matched choices), in order:
the ``x-vivi-scenario`` header (by name), the scenario forced from the control API, the first
scenario whose ``match`` holds, the default scenario.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from vivi_emulator.errors import FieldError, ValidationFailed, echoed
from vivi_emulator.journal import ChosenBy
from vivi_emulator.scenarios.context import RequestContext
from vivi_emulator.scenarios.loader import ScenarioSet
from vivi_emulator.scenarios.model import Match, Scenario, TextMatch, TurnRange

SCENARIO_HEADER = "x-vivi-scenario"


def _text_matches(matcher: str | TextMatch, value: str) -> bool:
    if isinstance(matcher, str):
        return value == matcher
    if matcher.regex is not None:
        return matcher.pattern.search(value)
    given = value.casefold() if matcher.ignore_case else value
    if matcher.equals is not None:
        wanted = matcher.equals.casefold() if matcher.ignore_case else matcher.equals
        return given == wanted
    assert matcher.contains is not None
    wanted = matcher.contains.casefold() if matcher.ignore_case else matcher.contains
    return wanted in given


def matches(match: Match, ctx: RequestContext) -> bool:
    """Whether the request holds every condition ``match`` gives (checked in this order, the
    message first: most scenarios are told apart by it)."""
    return (
        (match.message is None or _text_matches(match.message, ctx.message))
        and (match.channel is None or match.channel == ctx.channel_id)
        and (match.turn is None or _turn_matches(match.turn, ctx.turn))
        and (match.files is None or match.files == bool(ctx.attached_files))
        and (not match.headers or _headers_match(match.headers, ctx.headers))
    )


def _turn_matches(wanted: int | TurnRange, turn: int) -> bool:
    if isinstance(wanted, int):
        return wanted == turn
    return wanted.min <= turn and (wanted.max is None or turn <= wanted.max)


def _headers_match(wanted: Mapping[str, str | TextMatch], headers: Mapping[str, str]) -> bool:
    for name, matcher in wanted.items():
        value = headers.get(name.lower())
        if value is None or not _text_matches(matcher, value):
            return False
    return True


class UnknownScenario(ValidationFailed):
    def __init__(self, name: str, known: Sequence[str]) -> None:
        reason = f"unknown scenario '{echoed(name)}'; known: {', '.join(known)}"
        super().__init__(f"invalid request: {reason}", [FieldError(SCENARIO_HEADER, reason)])


def named(
    scenarios: ScenarioSet, header_scenario: str | None, forced_scenario: str | None
) -> tuple[Scenario, ChosenBy] | None:
    """The scenario named by the ``x-vivi-scenario`` header, else the one forced for every
    request from the control API, else None."""
    for name, how in ((header_scenario, ChosenBy.HEADER), (forced_scenario, ChosenBy.FORCED)):
        if name:
            scenario = scenarios.get(name)
            if scenario is None:
                raise UnknownScenario(name, scenarios.names)
            return scenario, how
    return None


def matched(scenarios: ScenarioSet, ctx: RequestContext) -> tuple[Scenario, ChosenBy]:
    """The first scenario whose match holds, else the default one."""
    for scenario in scenarios.scenarios:
        if scenario.match is not None and matches(scenario.match, ctx):
            return scenario, ChosenBy.MATCH
    default = scenarios.default
    if default is None:
        raise UnknownScenario("(none matched, and there is no default)", scenarios.names)
    return default, ChosenBy.DEFAULT
