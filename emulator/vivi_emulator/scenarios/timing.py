"""When each event of a reply is sent, and how its text is cut into chunks.

A reply's ``timing`` gives fixed delays (or a rate in tokens per second); without one, delays
are drawn from the latency profile: the first chunk at the time to first token, each later
event one token gap per token it carries. ``chunking`` cuts a text by tokens (the default),
words or characters.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from vivi_emulator.scenarios.latency import LatencyProfile
from vivi_emulator.scenarios.model import Chunking, Reply, Timing
from vivi_emulator.scenarios.tokens import count_tokens, split_tokens
from vivi_emulator.script import CHUNK, ScriptEvent, split_words


def chunks(
    text: str, chunking: Chunking, split: Callable[[str], list[str]] = split_tokens
) -> list[str]:
    if chunking.chars is not None:
        size = chunking.chars
        return [text[i : i + size] for i in range(0, len(text), size)] or [""]
    if chunking.words is not None:
        pieces, per = split_words(text), chunking.words
    else:
        pieces, per = split(text), chunking.tokens or 1
    if per == 1:
        return pieces
    return ["".join(pieces[i : i + per]) for i in range(0, len(pieces), per)]


def timed(
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
