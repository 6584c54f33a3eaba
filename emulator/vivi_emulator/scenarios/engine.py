"""From a chosen scenario and a request to a Script: its events, their times, its faults.

The events come from the reply's text or events (placeholders filled, cut into chunks), or its
recorded frames; their times from ``timing``; then the reply's faults (and chaos's) apply. A
status reply is raised instead. Randomness (latency, jitter) comes from a generator seeded by
the run's seed and the request's channel, thread and turn, so a run repeats exactly, whatever
order requests arrive in. Which scenario answers is chosen before (``choosing``,
``conversations``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from hashlib import sha256

from vivi_emulator.caches import Cache
from vivi_emulator.caps import MAX_WAIT_SECONDS, capped_seconds
from vivi_emulator.errors import STATUS_PHRASES, ReplyTooLarge, StatusReply
from vivi_emulator.scenarios.checks import MAX_REPLY_CHARS, MAX_REPLY_EVENTS
from vivi_emulator.scenarios.context import RequestContext
from vivi_emulator.scenarios.frames import frame_events, recorded_wire
from vivi_emulator.scenarios.latency import NONE, PROFILES, LatencyProfile
from vivi_emulator.scenarios.model import (
    Fault,
    Reply,
    Scenario,
)
from vivi_emulator.scenarios.template import is_templated, render
from vivi_emulator.scenarios.timing import chunks, timed
from vivi_emulator.scenarios.tokens import Tokenizer, split_tokens
from vivi_emulator.script import CHUNK, END, START, Script, ScriptEvent
from vivi_emulator.wire import Wire, WireOptions

# A stream fault added to a reply (chaos): given the reply's event count, the Fault, and what it
# did, for the journal.
Injected = Callable[[int], tuple[Fault, str]]


def _base_events(
    reply: Reply, values: Mapping[str, str], split: Callable[[str], list[str]]
) -> list[ScriptEvent]:
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
        events += [ScriptEvent(CHUNK, c) for p in parts for c in chunks(p, reply.chunking, split)]
    for spec in reply.events or ():
        if spec.text is not None:
            text = filled(spec.text)
            events += [ScriptEvent(CHUNK, c) for c in chunks(text, reply.chunking, split)]
        else:
            assert spec.event is not None
            events.append(ScriptEvent(spec.event, filled(spec.message)))
    events.append(ScriptEvent(END))
    if len(events) > MAX_REPLY_EVENTS:
        raise ReplyTooLarge(
            f"its reply would be {len(events)} events; the limit is {MAX_REPLY_EVENTS} events"
        )
    return events


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
# built once, in a cache its owner passes (the service: one per emulator, cleared when the
# fixtures are reloaded). Keyed by the reply and the default profile objects (which, with the
# scenario the reply belongs to, decide its profile); the entry keeps both alive, so neither id
# can be reused while it is there. None: the reply cannot be cached.
ScriptKey = tuple[int, int, float, WireOptions | None]
Constants = Cache[ScriptKey, tuple[Reply, LatencyProfile, Script | None]]


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """How a run (and a channel) builds its scripts: the same for every request they answer."""

    seed: int = 0
    # Every scripted delay is multiplied by it (0.5 plays twice as fast; 0: no delays); so are
    # the wire options' times, when the stream is played.
    time_scale: float = 1.0
    # The ``wire`` setting: for a stream whose scenario has no ``wire`` of its own.
    wire: WireOptions | None = None
    # The channel's or the run's profile, for a reply that names none.
    latency: LatencyProfile = NONE
    # Where scripts that are the same for every request are kept (None: nowhere): the owner's.
    constants: Constants | None = field(default=None, compare=False, repr=False)
    # The owner's memory of cut texts (None: every text is cut afresh).
    tokens: Tokenizer | None = field(default=None, compare=False, repr=False)


DEFAULT_OPTIONS = BuildOptions()


def constant_scripts(size: int = 4096) -> Constants:
    """A cache of constant scripts, for an owner to keep and pass to ``build_script``."""
    return Cache(size)


def _cacheable(scenario: Scenario, reply: Reply, latency: LatencyProfile) -> bool:
    timed = bool(reply.timing.model_fields_set)
    return (
        not reply.timing.jitter_ms
        and (timed or _profile(reply, scenario, latency).instant or reply.frames is not None)
        and not is_templated(reply)
    )


def build_script(
    scenario: Scenario,
    ctx: RequestContext,
    options: BuildOptions = DEFAULT_OPTIONS,
    *,
    step: int | None = None,
    inject: Injected | None = None,
) -> Script:
    """The Script of ``scenario`` for this request; a status scenario raises its StatusReply.

    ``step``: which of the scenario's ``turns`` answers (1-based; default: the thread's turn).
    ``inject``: a stream fault to add (chaos); the Script says what it did in ``injected``.
    ``options.constants``: where a script that is the same for every request is kept
    (``Script.shared``).
    """
    reply: Reply = scenario.step(step or ctx.turn) if scenario.turns else scenario
    if reply.status is not None:
        status = reply.status
        body = status.body or {"detail": STATUS_PHRASES.get(status.code, "scripted error")}
        raise StatusReply(status.code, body, merged_headers(reply.headers, status.headers))
    constants = options.constants
    if inject is not None or constants is None:
        return _build(scenario, reply, ctx, options, inject)
    key = (id(reply), id(options.latency), options.time_scale, options.wire)
    cached = constants.get(key)
    if cached is not None and cached[0] is reply and cached[1] is options.latency:
        if cached[2] is not None:
            return cached[2]
        return _build(scenario, reply, ctx, options)
    script = _build(scenario, reply, ctx, options)
    if _cacheable(scenario, reply, options.latency):
        script = replace(script, shared=True)
        constants.put(key, (reply, options.latency, script))
    else:
        constants.put(key, (reply, options.latency, None))
    return script


def _build(
    scenario: Scenario,
    reply: Reply,
    ctx: RequestContext,
    options: BuildOptions,
    inject: Injected | None = None,
) -> Script:
    """The Script of ``reply`` (the scenario's, or one of its turns) for this request."""
    name, seed, time_scale = scenario.name, options.seed, options.time_scale
    recorded_break: str | None = None
    if reply.frames is not None:
        events, recorded_break = frame_events(reply.frames)
    else:
        values = ctx.template_values()
        try:
            split = options.tokens.split if options.tokens is not None else split_tokens
            base = _base_events(reply, values, split)
        except ReplyTooLarge as exc:
            raise ReplyTooLarge(f"scenario '{name}': {exc.detail}") from None
        profile = _profile(reply, scenario, options.latency)
        events = timed(base, reply, profile, lambda: _rng(seed, ctx, name))
    fault, injected = reply.fault, None
    if inject is not None:
        added, injected = inject(len(events))
        fault = fault.model_copy(update={k: getattr(added, k) for k in added.model_fields_set})
    events, broken, abort = _faulted(events, fault)
    broken = broken or recorded_break
    if time_scale != 1.0:
        events = [replace(e, delay=e.delay * time_scale) for e in events]
    if any(e.delay > MAX_WAIT_SECONDS for e in events):
        # A delay plus its jitter or a stall, or scaled: each wait stays within the cap (caps.py).
        events = [replace(e, delay=capped_seconds(e.delay)) for e in events]
    wire = reply.wire or scenario.wire or options.wire
    wired = Wire(wire, time_scale, seed) if wire is not None else None
    if reply.replay == "wire" and reply.chunks is not None and inject is None:
        # The recorded reads, byte-exact (a chaos fault falls back to the frames' times).
        wired = recorded_wire(reply.chunks, events, time_scale=time_scale, seed=seed)
    return Script(
        events=tuple(events),
        scenario=name,
        abort=abort,
        broken=broken,
        headers=tuple(reply.headers.items()),
        wire=wired,
        injected=injected,
    )
