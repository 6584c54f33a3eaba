"""Exact SSE framing of VIVI events: ``data: <json>\\n\\n``, nothing else.

The JSON is what Python's ``json.dumps`` writes with its default separators, keys in the order
message, event: byte for byte the docs' sample, ``data: {"message": "Hello", "event": "..."}``.
"""

from __future__ import annotations

import json

from vivi_emulator.scenarios.script import END, START, ScriptEvent

_PREFIX = b"data: "
_SUFFIX = b"\n\n"


def encode_event(message: str, event: str) -> bytes:
    # Default json.dumps: ", " and ": " separators, non-ASCII as \uXXXX escapes.
    payload = json.dumps({"message": message, "event": event})
    return _PREFIX + payload.encode("ascii") + _SUFFIX


# The frames every stream sends are encoded once.
_CONSTANT = {
    (START, ""): encode_event("", START),
    (END, ""): encode_event("", END),
}


def frame(event: ScriptEvent) -> bytes:
    if event.raw is not None:
        return event.raw
    cached = _CONSTANT.get((event.event, event.message))
    return cached if cached is not None else encode_event(event.message, event.event)
