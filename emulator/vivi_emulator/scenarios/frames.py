"""Recorded SSE frames as Script events: the exact bytes, at the recorded times.

A ``frames`` reply (written by ``vivi-emulator record``) is replayed byte for byte: each frame is
sent as ``data: <data>\\n\\n`` (or its ``raw`` text verbatim), ``after_ms`` after the previous one.
Each event still carries the event name and message its JSON says, so ``/invoke`` and ``/batch``
answer the ``on_chat_model_stream`` messages joined, as for any other scenario.

With ``replay: wire``, ``/stream`` sends the recorded ``chunks`` instead: the same bytes, cut
where the recorder's reads were cut (inside a frame, inside a UTF-8 character) and spaced as
they were, as the exact writes of a wire plan (``wire.Wire.writes``), so the one writer of
exact writes (``streaming.EventStream``) plays them.
"""

from __future__ import annotations

from collections.abc import Sequence

from vivi_emulator.scenarios.model import Chunk, Frame
from vivi_emulator.script import END, ScriptEvent
from vivi_emulator.sse import frame_data, parse_event
from vivi_emulator.wire.options import WireOptions
from vivi_emulator.wire.plan import Wire, Write


def frame_bytes(frame: Frame) -> bytes:
    return frame.encoded


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


def recorded_wire(
    chunks: Sequence[Chunk], events: Sequence[ScriptEvent], *, time_scale: float, seed: int
) -> Wire:
    """The recorded reads as exact writes: each chunk's bytes, after its gap (scaled), with the
    events its last byte completes (as the journal lists them)."""
    stream = b"".join(event.raw or b"" for event in events)
    ends: list[int] = []
    for event in events:
        ends.append((ends[-1] if ends else 0) + len(event.raw or b""))
    writes: list[Write] = []
    start = done = 0
    for chunk in chunks:
        end = start + chunk.size
        completed: list[dict[str, str]] = []
        while done < len(events) and ends[done] <= end:
            raw = events[done].raw or b""
            completed.append({"raw": raw.decode("utf-8", "replace")})
            done += 1
        writes.append((chunk.after_ms / 1000.0 * time_scale, stream[start:end], completed))
        start = end
    return Wire(WireOptions(), time_scale, seed, writes=tuple(writes))
