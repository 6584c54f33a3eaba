"""From a request to a Script: choose the scenario, then write its events with their times.

Choice (after the one-shot queue, which the service consults first, and the thread's
conversation, which it places between the named and the matched choices), in order: the
``x-vivi-scenario`` header (by name), the scenario forced from the control API, the first
scenario whose ``match`` holds, the default scenario. Randomness (latency, jitter) comes from a
generator seeded by the run's seed and the request's channel, thread and turn, so a run repeats
exactly, whatever order requests arrive in.
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
from vivi_emulator.scenarios.latency import NONE, PROFILES, LatencyProfile
from vivi_emulator.scenarios.loader import ScenarioSet
from vivi_emulator.scenarios.model import (
    Chunking,
    Fault,
    Match,
    Reply,
    Scenario,
    TextMatch,
    Timing,
    TurnRange,
)
from vivi_emulator.scenarios.script import CHUNK, END, START, Script, ScriptEvent, split_words
from vivi_emulator.scenarios.template import is_templated, render
from vivi_emulator.scenarios.tokens import count_tokens, split_tokens
from vivi_emulator.store.values import Turn
from vivi_emulator.wire import Wire, WireOptions

# A stream fault added to a reply (chaos): given the reply's event count, the Fault, and what it
# did, for the journal.
Injected = Callable[[int], tuple[Fault, str]]

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


def _chunks(text: str, chunking: Chunking) -> list[str]:
    if chunking.chars is not None:
        size = chunking.chars
        return [text[i : i + size] for i in range(0, len(text), size)] or [""]
    if chunking.words is not None:
        pieces, per = split_words(text), chunking.words
    else:
        pieces, per = split_tokens(text), chunking.tokens or 1
    if per == 1:
        return pieces
    return ["".join(pieces[i : i + per]) for i in range(0, len(pieces), per)]


def _base_events(reply: Reply, values: Mapping[str, str]) -> list[ScriptEvent]:
    """The events of a text or events reply, placeholders filled, within the reply bounds
    (``checks``: a placeholder can expand to a whole message, so the bound holds here too)."""
    budget = MAX_REPLY_CHARS

    def filled(text: str) -> str:
        nonlocal budget
        rendered = render(text, values, budget)
        budget -= len(rendered)
        return rendered

    events = [ScriptEvent(START)]
    if reply.text is not None:
        parts = [filled(reply.text)]
        events += [ScriptEvent(CHUNK, c) for p in parts for c in _chunks(p, reply.chunking)]
    for spec in reply.events or ():
        if spec.text is not None:
            text = filled(spec.text)
            events += [ScriptEvent(CHUNK, c) for c in _chunks(text, reply.chunking)]
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
    events: list[ScriptEvent],
    reply: Reply,
    profile: LatencyProfile,
    rng: Callable[[], random.Random],
) -> list[ScriptEvent]:
    """The events with their delays: from the reply's ``timing`` when it gives any, else from
    the latency profile."""
    if reply.timing.model_fields_set:
        return _scripted(events, reply.timing, rng)
    if profile.instant:
        return events  # every event is due at once (the common, fast case)
    return _profiled(events, profile, rng())


def _per_token(event: ScriptEvent) -> int:
    return count_tokens(event.message) if event.event == CHUNK else 1


def _scripted(
    events: list[ScriptEvent], timing: Timing, rng: Callable[[], random.Random]
) -> list[ScriptEvent]:
    """The ``timing`` keys: fixed delays, ``tokens_per_second`` per token of a chunk."""
    per_token = timing.tokens_per_second is not None
    step = 1000.0 / timing.tokens_per_second if timing.tokens_per_second else timing.chunk_ms or 0
    first_chunk = timing.first_chunk_ms
    if not (timing.first_event_ms or first_chunk or step or timing.jitter_ms):
        return events
    jitter = rng() if timing.jitter_ms else None
    timed = []
    for index, event in enumerate(events):
        if index == 0:
            base = timing.first_event_ms
        elif index == 1 and first_chunk is not None:
            base = first_chunk
        else:
            base = step * _per_token(event) if per_token else step
        extra = jitter.uniform(0, timing.jitter_ms) if jitter is not None else 0.0
        timed.append(ScriptEvent(event.event, event.message, (base + extra) / 1000.0, event.raw))
    return timed


def _profiled(
    events: list[ScriptEvent], profile: LatencyProfile, rng: random.Random
) -> list[ScriptEvent]:
    """Delays drawn from the profile: the first chunk at the time to first token (from the
    request), every later event one token gap per token it carries."""
    first_event, first_token, gap = profile.delays()
    to_first_token = first_token.sample(rng)
    elapsed = min(first_event.sample(rng), to_first_token)
    timed = [replace(events[0], delay=elapsed / 1000.0)]
    waiting = True  # for the first chunk
    for event in events[1:]:
        if waiting and event.event == CHUNK:
            delay = max(0.0, to_first_token - elapsed)
            waiting = False
        else:
            delay = sum(gap.sample(rng) for _ in range(_per_token(event)))
        elapsed += delay
        timed.append(replace(event, delay=delay / 1000.0))
    return timed


def _faulted(events: list[ScriptEvent], fault: Fault) -> tuple[list[ScriptEvent], str | None, bool]:
    """Apply the stream faults; return the events, why the stream is broken (if it is), abort."""
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


def merged_headers(*layers: Mapping[str, str]) -> dict[str, str]:
    """Header layers, later ones replacing earlier ones of the same name (in any case)."""
    merged: dict[str, tuple[str, str]] = {}
    for layer in layers:
        for name, value in layer.items():
            merged[name.lower()] = (name, value)
    return dict(merged.values())


def _profile(reply: Reply, scenario: Scenario, default: LatencyProfile) -> LatencyProfile:
    """The reply's own profile, else its scenario's (for turns), else the channel's or run's."""
    chosen = reply.latency or scenario.latency or default
    return PROFILES[chosen] if isinstance(chosen, str) else chosen


# Scripts that are the same for every request (no placeholder, no jitter, no latency drawn),
# built once. Keyed by the reply and the profile objects, kept alive by the entry so the key
# cannot be reused; cleared when large (fixture reloads make new objects).
_Key = tuple[int, int, float, WireOptions | None]
_CONSTANT: dict[_Key, tuple[Reply, LatencyProfile, Script | None]] = {}


def _constant(key: _Key, reply: Reply, profile: LatencyProfile) -> tuple[Script | None, bool]:
    """(the cached script, whether this reply can be cached at all)."""
    cached = _CONSTANT.get(key)
    if cached is not None and cached[0] is reply and cached[1] is profile:
        return cached[2], cached[2] is not None
    timed = bool(reply.timing.model_fields_set)
    cacheable = (
        not reply.timing.jitter_ms
        and (timed or profile.instant or reply.frames is not None)
        and not is_templated(reply)
    )
    return None, cacheable


def build_script(
    scenario: Scenario,
    ctx: RequestContext,
    seed: int,
    time_scale: float = 1.0,
    wire: WireOptions | None = None,
    *,
    step: int | None = None,
    latency: LatencyProfile = NONE,
    inject: Injected | None = None,
) -> Script:
    """The Script of ``scenario`` for this request; a status scenario raises its StatusReply.

    ``wire`` (the ``wire`` setting) applies to a stream whose scenario has no ``wire`` of its own.
    ``step``: which of the scenario's ``turns`` answers (1-based; default: the thread's turn).
    ``latency``: the channel's or the run's profile, for a reply that names none. ``inject``: a
    stream fault to add (chaos); the Script says what it did in ``injected``.
    """
    reply: Reply = scenario.step(step or ctx.turn) if scenario.turns else scenario
    if reply.status is not None:
        status = reply.status
        body = status.body or {"detail": _REASON_PHRASES.get(status.code, "scripted error")}
        raise StatusReply(status.code, body, merged_headers(reply.headers, status.headers))
    profile = _profile(reply, scenario, latency)
    options = reply.wire or scenario.wire or wire
    if inject is not None:
        return _build(scenario.name, reply, ctx, seed, time_scale, profile, options, inject)
    key = (id(reply), id(profile), time_scale, wire)
    script, cacheable = _constant(key, reply, profile)
    if script is not None:
        return script
    script = _build(scenario.name, reply, ctx, seed, time_scale, profile, options)
    if len(_CONSTANT) > 4096:
        _CONSTANT.clear()
    _CONSTANT[key] = (reply, profile, script if cacheable else None)
    return script


def _build(
    name: str,
    reply: Reply,
    ctx: RequestContext,
    seed: int,
    time_scale: float,
    profile: LatencyProfile,
    wire: WireOptions | None = None,
    inject: Injected | None = None,
) -> Script:
    """The Script of ``reply`` for this request.

    Every scripted delay is multiplied by ``time_scale`` (0.5 plays twice as fast; 0: no delays);
    so are the wire options' times, when the stream is played.
    """
    recorded_break: str | None = None
    if reply.frames is not None:
        events, recorded_break = frame_events(reply.frames)
    else:
        values = ctx.template_values()
        try:
            base = _base_events(reply, values)
        except ReplyTooLarge as exc:
            raise ReplyTooLarge(f"scenario '{name}': {exc.detail}") from None
        events = _timed(base, reply, profile, lambda: _rng(seed, ctx, name))
    fault, injected = reply.fault, None
    if inject is not None:
        added, injected = inject(len(events))
        fault = fault.model_copy(update={k: getattr(added, k) for k in added.model_fields_set})
    events, broken, abort = _faulted(events, fault)
    broken = broken or recorded_break
    if time_scale != 1.0:
        events = [replace(e, delay=e.delay * time_scale) for e in events]
    return Script(
        events=tuple(events),
        scenario=name,
        abort=abort,
        broken=broken,
        headers=tuple(reply.headers.items()),
        wire=Wire(wire, time_scale, seed) if wire is not None else None,
        injected=injected,
    )
