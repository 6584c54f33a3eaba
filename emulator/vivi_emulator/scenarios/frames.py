"""Recorded SSE frames as Script events: the exact bytes, at the recorded times.

A ``frames`` reply (written by ``vivi-emulator record``) is replayed byte for byte: each frame is
sent as ``data: <data>\\n\\n`` (or its ``raw`` text verbatim), ``after_ms`` after the previous one.
Each event still carries the event name and message its JSON says, so ``/invoke`` and ``/batch``
answer the ``on_chat_model_stream`` messages joined, as for any other scenario.
"""

from __future__ import annotations

from collections.abc import Sequence

from vivi_emulator.scenarios.model import Frame
from vivi_emulator.scenarios.script import END, ScriptEvent
from vivi_emulator.sse import encode_data, frame_data, parse_event


def frame_bytes(frame: Frame) -> bytes:
    if frame.raw is not None:
        return frame.raw.encode("utf-8")
    assert frame.data is not None
    return encode_data(frame.data)


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
