"""From a request to a Script: choose the scenario, then write its events with their times.

Choice (after the one-shot queue, which the service consults first), in order: the
``x-vivi-scenario`` header (by name), the scenario forced from the control API, the first
scenario whose ``match`` holds, the default scenario. Randomness (jitter) comes from a generator
seeded by the run's seed and the request's channel, thread and turn, so a run repeats exactly,
whatever order requests arrive in.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from hashlib import sha256
from urllib.parse import unquote, urlsplit

from vivi_emulator.errors import FieldError, ReplyTooLarge, StatusReply, ValidationFailed
from vivi_emulator.journal import ChosenBy
from vivi_emulator.scenarios import regex
from vivi_emulator.scenarios.checks import MAX_REPLY_CHARS, MAX_REPLY_EVENTS
from vivi_emulator.scenarios.frames import frame_events
from vivi_emulator.scenarios.loader import ScenarioSet
from vivi_emulator.scenarios.model import (
    Chunking,
    Match,
    Response,
    Scenario,
    TextMatch,
    TurnRange,
)
from vivi_emulator.scenarios.script import CHUNK, END, START, Script, ScriptEvent, split_words
from vivi_emulator.scenarios.template import is_templated, render
from vivi_emulator.store.base import Turn
from vivi_emulator.wire import Wire, WireOptions

SCENARIO_HEADER = "x-vivi-scenario"

_REASON_PHRASES = {
    429: "rate limit exceeded, retry later",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


@dataclass(slots=True)  # built on every request: no frozen-dataclass __init__ cost
class RequestContext:
    """What a scenario can match on and template from."""

    channel_id: str
    message: str
    thread_id: str
    user_id: str | None
    attached_files: Sequence[str]
    turn: int
    headers: Mapping[str, str]
    history: Sequence[Turn] = ()

    @property
    def file_names(self) -> list[str]:
        return [
            unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or url for url in self.attached_files
        ]

    def template_values(self) -> dict[str, str]:
        previous = self.history[-1] if self.history else None
        return {
            "message": self.message,
            "threadId": self.thread_id,
            "userId": self.user_id or "",
            "channelId": self.channel_id,
            "turn": str(self.turn),
            "files": ", ".join(self.file_names),
            "file_count": str(len(self.attached_files)),
            "previous_message": previous.message if previous else "",
            "previous_reply": previous.reply if previous else "",
        }


def _text_matches(matcher: str | TextMatch, value: str) -> bool:
    if isinstance(matcher, str):
        return value == matcher
    if matcher.regex is not None:
        return regex.search(matcher.regex, value, matcher.ignore_case)
    given = value.casefold() if matcher.ignore_case else value
    if matcher.equals is not None:
        wanted = matcher.equals.casefold() if matcher.ignore_case else matcher.equals
        return given == wanted
    assert matcher.contains is not None
    wanted = matcher.contains.casefold() if matcher.ignore_case else matcher.contains
    return wanted in given


def matches(match: Match, ctx: RequestContext) -> bool:
    if match.message is not None and not _text_matches(match.message, ctx.message):
        return False
    if match.channel is not None and match.channel != ctx.channel_id:
        return False
    if isinstance(match.turn, int) and match.turn != ctx.turn:
        return False
    if isinstance(match.turn, TurnRange) and not (
        match.turn.min <= ctx.turn and (match.turn.max is None or ctx.turn <= match.turn.max)
    ):
        return False
    if match.files is not None and match.files != bool(ctx.attached_files):
        return False
    for name, matcher in match.headers.items():
        value = ctx.headers.get(name.lower())
        if value is None or not _text_matches(matcher, value):
            return False
    return True


class UnknownScenario(ValidationFailed):
    def __init__(self, name: str, known: Sequence[str]) -> None:
        reason = f"unknown scenario '{name}'; known: {', '.join(known)}"
        super().__init__(f"invalid request: {reason}", [FieldError(SCENARIO_HEADER, reason)])


def pick(
    scenarios: ScenarioSet,
    ctx: RequestContext,
    header_scenario: str | None,
    forced_scenario: str | None,
) -> tuple[Scenario, ChosenBy]:
    """The scenario for a request that no queued reply took, and how it was chosen.

    In order: the one named by the ``x-vivi-scenario`` header, the one forced for every request
    from the control API, the first fixture whose match holds, the default.
    """
    for name, how in ((header_scenario, ChosenBy.HEADER), (forced_scenario, ChosenBy.FORCED)):
        if name:
            scenario = scenarios.get(name)
            if scenario is None:
                raise UnknownScenario(name, scenarios.names)
            return scenario, how
    for scenario in scenarios.scenarios:
        if scenario.match is not None and matches(scenario.match, ctx):
            return scenario, ChosenBy.MATCH
    default = scenarios.default
    if default is None:
        raise UnknownScenario("(none matched, and there is no default)", scenarios.names)
    return default, ChosenBy.DEFAULT


def _chunks(text: str, chunking: Chunking) -> list[str]:
    if chunking.chars is not None:
        size = chunking.chars
        return [text[i : i + size] for i in range(0, len(text), size)] or [""]
    words = split_words(text)
    per = chunking.words or 1
    return ["".join(words[i : i + per]) for i in range(0, len(words), per)]


def _base_events(response: Response, values: Mapping[str, str]) -> list[ScriptEvent]:
    """The events of a text or events reply, placeholders filled, within the reply bounds
    (``checks``: a placeholder can expand to a whole message, so the bound holds here too)."""
    budget = MAX_REPLY_CHARS

    def filled(text: str) -> str:
        nonlocal budget
        rendered = render(text, values, budget)
        budget -= len(rendered)
        return rendered

    events = [ScriptEvent(START)]
    if response.text is not None:
        parts = [filled(response.text)]
        events += [ScriptEvent(CHUNK, c) for p in parts for c in _chunks(p, response.chunking)]
    for spec in response.events or ():
        if spec.text is not None:
            text = filled(spec.text)
            events += [ScriptEvent(CHUNK, c) for c in _chunks(text, response.chunking)]
        else:
            assert spec.event is not None
            events.append(ScriptEvent(spec.event, filled(spec.message)))
    events.append(ScriptEvent(END))
    if len(events) > MAX_REPLY_EVENTS:
        raise ReplyTooLarge(
            f"its reply would be {len(events)} events; the limit is {MAX_REPLY_EVENTS} events"
        )
    return events


def _timed(
    events: list[ScriptEvent], response: Response, rng: Callable[[], random.Random]
) -> list[ScriptEvent]:
    timing = response.timing
    if timing.tokens_per_second is not None:
        step = 1000.0 / timing.tokens_per_second
    else:
        step = timing.chunk_ms or 0.0
    first_chunk = step if timing.first_chunk_ms is None else timing.first_chunk_ms
    if not (timing.first_event_ms or first_chunk or step or timing.jitter_ms):
        return events  # no timing: every event is due at once (the common, fast case)
    jitter = rng() if timing.jitter_ms else None
    timed = []
    for index, event in enumerate(events):
        base = timing.first_event_ms if index == 0 else first_chunk if index == 1 else step
        extra = jitter.uniform(0, timing.jitter_ms) if jitter is not None else 0.0
        timed.append(ScriptEvent(event.event, event.message, (base + extra) / 1000.0, event.raw))
    return timed


def _faulted(
    events: list[ScriptEvent], response: Response
) -> tuple[list[ScriptEvent], str | None, bool]:
    """Apply the stream faults; return the events, why the stream is broken (if it is), abort."""
    fault = response.fault
    broken: str | None = None
    if fault.stall is not None and fault.stall.after_events < len(events):
        at = fault.stall.after_events
        events[at] = replace(events[at], delay=events[at].delay + fault.stall.ms / 1000.0)
    if fault.malformed is not None:
        at = min(fault.malformed.after_events, len(events))
        raw = fault.malformed.frame.encode("utf-8")
        events.insert(at, ScriptEvent(CHUNK, raw=raw))
        broken = "a malformed event"
    if fault.error_event is not None:
        spec = fault.error_event
        events = [*events[: spec.after_events], ScriptEvent(spec.event, spec.message)]
        broken = f"an error event ({spec.event}: {spec.message})"
    if fault.omit_end:
        events = [e for e in events if e.event != END or e.raw is not None]
        broken = broken or "the stream ended without on_chat_model_end"
    abort = False
    if fault.close_after_events is not None:
        events = events[: fault.close_after_events]
        broken = f"the connection closed after {fault.close_after_events} events"
        abort = True
    return events, broken, abort


def _rng(seed: int, ctx: RequestContext, scenario: str) -> random.Random:
    digest = sha256(
        f"{seed}\0{scenario}\0{ctx.channel_id}\0{ctx.thread_id.lower()}\0{ctx.turn}".encode()
    ).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311 - jitter, not secrets


# Scripts that are the same for every request (no placeholder, no jitter), built once. Keyed by
# the response object, kept alive by the entry so the key cannot be reused; cleared when large
# (fixture reloads make new objects).
_Key = tuple[int, float, WireOptions | None]
_CONSTANT: dict[_Key, tuple[Response, Script | None]] = {}


def _constant(key: _Key, response: Response) -> tuple[Script | None, bool]:
    """(the cached script, whether this response can be cached at all)."""
    cached = _CONSTANT.get(key)
    if cached is not None and cached[0] is response:
        return cached[1], cached[1] is not None
    cacheable = not response.timing.jitter_ms and not is_templated(response)
    return None, cacheable


def build_script(
    scenario: Scenario,
    ctx: RequestContext,
    seed: int,
    time_scale: float = 1.0,
    wire: WireOptions | None = None,
) -> Script:
    """The Script of ``scenario`` for this request; a status scenario raises its StatusReply.

    ``wire`` (the ``wire`` setting) applies to a stream whose scenario has no ``wire`` of its own.
    """
    response: Response = scenario
    if scenario.turns:
        response = scenario.turns[min(ctx.turn, len(scenario.turns)) - 1]
    if response.status is not None:
        status = response.status
        body = status.body or {"detail": _REASON_PHRASES.get(status.code, "scripted error")}
        raise StatusReply(status.code, body, {**response.headers, **status.headers})
    key = (id(response), time_scale, wire)
    script, cacheable = _constant(key, response)
    if script is not None:
        return script
    options = response.wire or scenario.wire or wire
    script = _build(scenario.name, response, ctx, seed, time_scale, options)
    if len(_CONSTANT) > 4096:
        _CONSTANT.clear()
    _CONSTANT[key] = (response, script if cacheable else None)
    return script


def _build(
    name: str,
    response: Response,
    ctx: RequestContext,
    seed: int,
    time_scale: float,
    wire: WireOptions | None = None,
) -> Script:
    """The Script of ``response`` for this request.

    Every scripted delay is multiplied by ``time_scale`` (0.5 plays twice as fast); so are the
    wire options' times, when the stream is played.
    """
    recorded_break: str | None = None
    if response.frames is not None:
        events, recorded_break = frame_events(response.frames)
    else:
        values = ctx.template_values()
        try:
            base = _base_events(response, values)
        except ReplyTooLarge as exc:
            raise ReplyTooLarge(f"scenario '{name}': {exc.detail}") from None
        events = _timed(base, response, lambda: _rng(seed, ctx, name))
    events, broken, abort = _faulted(events, response)
    broken = broken or recorded_break
    if time_scale != 1.0:
        events = [replace(e, delay=e.delay * time_scale) for e in events]
    return Script(
        events=tuple(events),
        scenario=name,
        abort=abort,
        broken=broken,
        headers=tuple(response.headers.items()),
        wire=Wire(wire, time_scale, seed) if wire is not None else None,
    )
