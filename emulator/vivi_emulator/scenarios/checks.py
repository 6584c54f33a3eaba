"""What a scenario must satisfy beyond its model, checked alike for fixture files and queued
replies: known placeholders, and a bounded reply.

Bounds (README, "Bounds"): a reply of at most ``MAX_REPLY_CHARS`` characters of text and
``MAX_REPLY_EVENTS`` events, checked when a scenario is loaded or queued, and again when a
templated reply is rendered (a placeholder can expand to a whole message). One scenario can
never make the emulator build a reply of hundreds of megabytes.
"""

from __future__ import annotations

import json

from vivi_emulator.scenarios.model import Chunking, Reply, Scenario
from vivi_emulator.scenarios.template import template_problems
from vivi_emulator.scenarios.tokens import count_tokens
from vivi_emulator.script import split_words

MAX_REPLY_CHARS = 1_048_576
MAX_REPLY_EVENTS = 50_000


def chunk_count(text: str, chunking: Chunking) -> int:
    """How many stream chunks ``text`` is cut into (``engine`` cuts them the same way)."""
    if chunking.chars is not None:
        return max(1, -(-len(text) // chunking.chars))
    if chunking.words is not None:
        return -(-len(split_words(text)) // chunking.words)
    return -(-count_tokens(text) // (chunking.tokens or 1))


def _size(reply: Reply) -> tuple[int, int]:
    """(characters, events) of a reply as written, placeholders counted as written."""
    chars, events = 0, 2  # start and end
    if reply.text is not None:
        chars += len(reply.text)
        events += chunk_count(reply.text, reply.chunking)
    for spec in reply.events or ():
        chars += len(spec.message) + len(spec.text or "")
        events += chunk_count(spec.text, reply.chunking) if spec.text is not None else 1
    for frame in reply.frames or ():
        chars += len(frame.data or frame.raw or "")
        events += 1
    if reply.status is not None and reply.status.body is not None:
        chars += len(json.dumps(reply.status.body))
    return chars, events


def size_problems(scenario: Scenario) -> list[str]:
    problems = []
    for reply in [scenario, *(scenario.turns or ())]:
        chars, events = _size(reply)
        if chars > MAX_REPLY_CHARS:
            problems.append(
                f"the reply is {chars} characters; the limit is {MAX_REPLY_CHARS} characters"
            )
        if events > MAX_REPLY_EVENTS:
            problems.append(f"the reply is {events} events; the limit is {MAX_REPLY_EVENTS} events")
    return problems


def scenario_problems(scenario: Scenario) -> list[str]:
    """Every problem of a valid model that stops it from being used, in words for its author."""
    return [*template_problems(scenario), *size_problems(scenario)]
