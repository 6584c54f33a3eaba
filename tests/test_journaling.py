"""Journaling: entries hold no key (one redactor per snapshot of the keys, rotated and deleted
channels' keys included within the store's bound); a stream's exact text (the HAR export's
body): its events' frames, or for a stream with wire options its bytes as sent, bounded, and
with no key in it, even one cut over several events."""

from __future__ import annotations

from vivi_emulator.calls import Call, Trace
from vivi_emulator.journaling import Journaling, frames_text, stream_text
from vivi_emulator.redaction import REDACTED, Redactor
from vivi_emulator.scenarios.script import CHUNK, END, START, ScriptEvent
from vivi_emulator.sse import encode_event, frame
from vivi_emulator.store.keys import KeyRing


def _trace(body: str) -> Trace:
    call = Call("POST", "/channelsApi/a/invoke", "a", {"vivi-api-key": "key-a"}, 0.0, 0.0)
    return Trace(call, [], body=body, status=200)


def test_one_redactor_is_built_per_snapshot_of_the_keys() -> None:
    journaling = Journaling(48 * 1024, admin_token="admin-secret")
    ring = KeyRing.of({"a": "key-a"}, ever=["old-key-a", "deleted-channel-key"])
    first = journaling.redactor(ring)
    assert journaling.redactor(ring) is first  # the same snapshot: the same redactor
    newer = KeyRing.of({"a": "key-a2"}, ever=["key-a"], version=ring.version)
    assert journaling.redactor(newer) is not first  # a new snapshot, even at the same version
    entry = journaling.entry(_trace("key-a old-key-a deleted-channel-key admin-secret kept"), ring)
    assert entry.body == "[redacted] [redacted] [redacted] [redacted] kept"


KEY = "sk-live-123"


def _frames(*messages: str) -> list[bytes]:
    return [encode_event(m, "on_chat_model_stream") for m in messages]


def _events(*messages: str) -> list[dict[str, str]]:
    return [{"message": m, "event": "on_chat_model_stream"} for m in messages]


def test_the_text_is_the_bytes_sent() -> None:
    sent = _frames("Hello", " world")
    text, cut = stream_text(sent, _events("Hello", " world"), Redactor([KEY]), 10_000)
    assert (text.encode(), cut) == (b"".join(sent), False)


def test_a_key_in_one_frame_is_redacted_in_place() -> None:
    sent = _frames(f"key {KEY}", "!")
    events = _events(f"key {REDACTED}", "!")
    text, _ = stream_text(sent, events, Redactor([KEY]), 10_000)
    assert text == b"".join(_frames(f"key {REDACTED}", "!")).decode()


def test_a_key_cut_over_frames_is_framed_again_from_the_redacted_events() -> None:
    sent = _frames("key sk-live", "-123", " done")
    events = _events(f"key {REDACTED}", "", " done")  # as kept_events redacts the parts
    text, _ = stream_text(sent, events, Redactor([KEY]), 10_000)
    assert "sk-live" not in text
    assert "-123" not in text
    assert text == "".join(encode_event(e["message"], e["event"]).decode() for e in events)


def test_a_long_stream_is_cut_and_says_so() -> None:
    sent = _frames(*(["word "] * 1000))
    text, cut = stream_text(sent, _events(*(["word "] * 1000)), Redactor(), 4096)
    assert cut
    assert "truncated" in text
    assert len(text.encode()) < len(b"".join(sent))


def test_the_frames_of_journaled_events_are_the_bytes_sse_frame_wrote() -> None:
    script = (
        ScriptEvent(START),
        ScriptEvent(CHUNK, 'quote " and é'),
        ScriptEvent(CHUNK, raw=b"data: not json\n\n"),
        ScriptEvent(END),
    )
    journaled = [
        {"raw": e.raw.decode()} if e.raw is not None else {"message": e.message, "event": e.event}
        for e in script
    ]
    assert frames_text(journaled).encode() == b"".join(frame(e) for e in script)
