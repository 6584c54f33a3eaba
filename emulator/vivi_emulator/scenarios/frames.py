"""Recorded SSE frames as Script events: the exact bytes, at the recorded times.

A ``frames`` reply (written by ``vivi-emulator record``) is replayed byte for byte: each frame is
sent as ``data: <data>\\n\\n`` (or its ``raw`` text verbatim), ``after_ms`` after the previous one.
Each event still carries the event name and message its JSON says, so ``/invoke`` and ``/batch``
answer the ``on_chat_model_stream`` messages joined, as for any other scenario.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from vivi_emulator.scenarios.model import Frame
from vivi_emulator.scenarios.script import END, ScriptEvent


def frame_bytes(frame: Frame) -> bytes:
    if frame.raw is not None:
        return frame.raw.encode("utf-8")
    assert frame.data is not None
    return b"data: " + frame.data.encode("utf-8") + b"\n\n"


def frame_data(text: str) -> str | None:
    """The data of one SSE frame as a client parses it; None when it has no ``data:`` line."""
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line == "data" or line.startswith("data:"):
            value = line[5:]
            lines.append(value[1:] if value.startswith(" ") else value)
    return "\n".join(lines) if lines else None


def parse_event(data: str) -> tuple[str, str] | None:
    """(event, message) of a VIVI event's JSON; None when it is not one."""
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    event, message = payload.get("event"), payload.get("message")
    if not isinstance(event, str) or not isinstance(message, str):
        return None
    return event, message


def frame_events(frames: Sequence[Frame]) -> tuple[list[ScriptEvent], str | None]:
    """The events of recorded frames, and why the stream is broken, if it is (for /invoke)."""
    events: list[ScriptEvent] = []
    malformed = False
    for frame in frames:
        data = frame.data if frame.data is not None else frame_data(frame.raw or "")
        parsed = parse_event(data) if data is not None else None
        if data is not None and parsed is None:
            malformed = True
        event, message = parsed or ("", "")
        events.append(ScriptEvent(event, message, frame.after_ms / 1000.0, frame_bytes(frame)))
    if malformed:
        return events, "a malformed event"
    if not any(e.event == END for e in events):
        return events, "the stream ended without on_chat_model_end"
    return events, None
