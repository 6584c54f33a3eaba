"""Journaling a stream's exact text (the HAR export's body): its events' frames, or for a stream
with wire options its bytes as sent, bounded, and with no key in it, even one cut over several
events; and one redactor per snapshot of the keys, rotated and deleted channels' keys included
within the store's bound."""

from __future__ import annotations

import copy
import json
import logging
import pickle
import time
import uuid

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from redis.asyncio import Redis

from vivi_emulator.calls import Call, Trace
from vivi_emulator.journal import FrozenEvent
from vivi_emulator.journaling import (
    MAX_HEADERS,
    Journaling,
    cut,
    frames_text,
    journaled_headers,
    kept_events,
    kept_headers,
    stream_text,
)
from vivi_emulator.redaction import REDACTED, Redactor
from vivi_emulator.rendering import Played, Rendered
from vivi_emulator.script import CHUNK, END, START, Script, ScriptEvent
from vivi_emulator.settings import Settings
from vivi_emulator.sse import encode_event, frame
from vivi_emulator.store.keys import KeyRing

from tests.support import CHANNEL, KEY, serving, url

C = "/_emulator"

LIVE_KEY = "sk-live-123"


def _frames(*messages: str) -> list[bytes]:
    return [encode_event(m, "on_chat_model_stream") for m in messages]


def _events(*messages: str) -> list[dict[str, str]]:
    return [{"message": m, "event": "on_chat_model_stream"} for m in messages]


def test_the_text_is_the_bytes_sent() -> None:
    sent = _frames("Hello", " world")
    text, cut = stream_text(sent, _events("Hello", " world"), Redactor([LIVE_KEY]), 10_000)
    assert (text.encode(), cut) == (b"".join(sent), False)


def test_a_key_in_one_frame_is_redacted_in_place() -> None:
    sent = _frames(f"key {LIVE_KEY}", "!")
    events = _events(f"key {REDACTED}", "!")
    text, _ = stream_text(sent, events, Redactor([LIVE_KEY]), 10_000)
    assert text == b"".join(_frames(f"key {REDACTED}", "!")).decode()


def test_a_key_cut_over_frames_is_framed_again_from_the_redacted_events() -> None:
    sent = _frames("key sk-live", "-123", " done")
    events = _events(f"key {REDACTED}", "", " done")  # as kept_events redacts the parts
    text, _ = stream_text(sent, events, Redactor([LIVE_KEY]), 10_000)
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


# --- errors, cuts and events (mutation survivors) ------------------------------------------

SECRET = "sk-journal-secret-1"


def _failed(error: str) -> Trace:
    call = Call(
        "POST",
        "/channelsApi/c/invoke",
        "c",
        {"vivi-api-key": SECRET},
        time.time(),
        time.monotonic(),
    )
    return Trace(call, [], body=f'{{"message": "my key {SECRET}"}}', status=500, error=error)


def test_the_error_field_is_redacted_like_the_body_and_headers() -> None:
    entry = Journaling(entry_bytes=49152).entry(
        _failed(f"upstream said: bad key {SECRET}"), KeyRing.of({"c": SECRET})
    )
    assert entry.error == f"upstream said: bad key {REDACTED}"
    assert SECRET not in (entry.body or "")
    assert dict(entry.headers)["vivi-api-key"] == REDACTED


def test_a_key_of_a_deleted_channel_is_still_redacted_from_the_error() -> None:
    ring = KeyRing.of({"other": "k2"}, ever=[SECRET])
    entry = Journaling(entry_bytes=49152).entry(_failed(f"key {SECRET} refused"), ring)
    assert entry.error == f"key {REDACTED} refused"


def test_a_text_over_its_bound_is_cut_with_a_marker_saying_how_much() -> None:
    assert cut("abcdef", 6) == ("abcdef", False)
    assert cut("abcdefgh", 6) == ("abcdef…[truncated: 2 more bytes]", True)
    # Never inside a UTF-8 character: the partial character is dropped, counted as left out.
    assert cut("ab\u00e9", 3) == ("ab…[truncated: 1 more bytes]", True)


def test_events_past_the_bound_are_left_out_and_counted() -> None:
    events = [{"event": "on_chat_model_stream", "message": "x" * 8} for _ in range(5)]
    size = len("on_chat_model_stream") + 8 + 32  # each event's share of the bound
    kept, left_out = kept_events(events, Redactor([]), size * 3)
    assert (len(kept), left_out) == (3, 2)
    kept, left_out = kept_events(events, Redactor([]), size * 3 - 1)
    assert (len(kept), left_out) == (2, 3)
    assert kept_events(events, Redactor([]), size * 5) == (tuple(events), 0)


def test_a_key_echoed_across_stream_chunks_is_redacted_in_the_events() -> None:
    events = [
        {"event": "on_chat_model_stream", "message": SECRET[:6]},
        {"event": "on_chat_model_stream", "message": SECRET[6:]},
        {"event": f"tool {SECRET}", "message": "done"},
    ]
    kept, _ = kept_events(events, Redactor([SECRET]), 10_000)
    assert SECRET not in "".join(e["message"] for e in kept)
    assert REDACTED in "".join(e["message"] for e in kept)
    assert kept[2] == {"event": f"tool {REDACTED}", "message": "done"}


def test_a_lone_surrogate_is_cut_without_an_error() -> None:
    # A client's JSON may carry "\ud800"; the journal keeps what it can, it never fails.
    assert cut("a\ud800" * 10, 5) == ("aa…[truncated: 35 more bytes]", True)


# --- the entry's fields and bounds (mutation survivors) ------------------------------------


def _stream(body: str | bytes | None, **headers: str) -> Trace:
    call = Call(
        "POST", "/channelsApi/c/invoke", "c", {"vivi-api-key": SECRET, **headers}, 1234.5, 100.0
    )
    return Trace(call, [], body=body, status=200)


def test_an_entry_keeps_each_field_redacted() -> None:
    trace = _stream(f"my key {SECRET}", **{"x-note": SECRET})
    entry = Journaling(entry_bytes=49152).entry(trace, KeyRing.of({"c": SECRET}))
    assert (entry.time, entry.channel, entry.status) == (1234.5, "c", 200)
    assert (entry.body, entry.body_truncated) == (f"my key {REDACTED}", False)
    assert entry.body_truncated is False
    assert dict(entry.headers) == {"vivi-api-key": REDACTED, "x-note": REDACTED}


def test_an_entry_without_a_body_says_nothing_was_cut() -> None:
    entry = Journaling(entry_bytes=49152).entry(_stream(None), KeyRing.of({"c": SECRET}))
    assert entry.body is None
    assert entry.body_truncated is False


def test_the_body_gets_a_third_of_the_entry() -> None:
    # 3001 bytes: the body's share is 1000 (not a multiple of 3 on purpose).
    journaling, ring = Journaling(entry_bytes=3001), KeyRing.of({"c": SECRET})
    at_edge = journaling.entry(_stream("b" * 1000), ring)
    assert (at_edge.body, at_edge.body_truncated) == ("b" * 1000, False)
    past = journaling.entry(_stream("b" * 1001), ring)
    assert (past.body, past.body_truncated) == ("b" * 1000 + "…[truncated: 1 more bytes]", True)


def test_a_bytes_body_over_its_share_is_decoded_and_cut_without_an_error() -> None:
    entry = Journaling(entry_bytes=3001).entry(
        _stream(b"\xff" + b"b" * 1500), KeyRing.of({"c": SECRET})
    )
    assert entry.body_truncated is True
    assert (entry.body or "").startswith("\ufffd" + "b" * 997 + "…[truncated:")


def test_a_header_value_is_redacted_again_after_the_keys_change() -> None:
    journaling, ring = Journaling(entry_bytes=49152), KeyRing.of({"c": SECRET})
    first = journaling.entry(_stream(None, **{"x-note": "key-new"}), ring)
    assert dict(first.headers)["x-note"] == "key-new"  # not a key yet
    rotated = KeyRing.of({"c": "key-new"}, ever=[SECRET])
    again = journaling.entry(_stream(None, **{"x-note": "key-new"}), rotated)
    assert dict(again.headers)["x-note"] == REDACTED


# --- cheap to write, and still no secret (issue 22) ----------------------------------------

_NAMES = ("vivi-api-key", "authorization", "cookie", "traceparent", "x-request-id", "x-note")


@given(
    st.dictionaries(
        st.sampled_from(_NAMES) | st.text("abcxyz-", min_size=1, max_size=6),
        st.text(max_size=12) | st.text("k", min_size=250, max_size=300),
        max_size=8,
    ),
    st.lists(st.text(min_size=1, max_size=6), max_size=3),
)
def test_headers_searched_at_once_are_what_each_value_redacted_alone_makes(
    headers: dict[str, str], secrets: list[str]
) -> None:
    # The search of all values in one text is only a filter: whatever it finds or misses,
    # the journaled headers are those of the per-value redaction (``kept_headers``).
    redact = Redactor(secrets)
    assert journaled_headers(headers, redact) == kept_headers(headers.items(), redact)


def test_headers_new_on_every_request_are_redacted_on_every_request() -> None:
    journaling, ring = Journaling(entry_bytes=49152), KeyRing.of({"c": SECRET})
    for n in range(3):
        parent = f"00-{n:032x}-{n:016x}-01"
        entry = journaling.entry(
            _stream(None, traceparent=parent, **{"x-request-id": f"req-{n}-{SECRET}"}), ring
        )
        headers = dict(entry.headers)
        assert headers == {
            "vivi-api-key": REDACTED,
            "traceparent": parent,
            "x-request-id": f"req-{n}-{REDACTED}",
        }


def test_more_headers_than_the_bound_keep_the_first_ones_redacted() -> None:
    many = {f"x-h{n}": f"{SECRET} {n}" for n in range(MAX_HEADERS + 5)}
    entry = Journaling(entry_bytes=49152).entry(_stream(None, **many), KeyRing.of({"c": SECRET}))
    assert len(entry.headers) == MAX_HEADERS
    assert entry.headers[1] == ("x-h0", f"{REDACTED} 0")


def _played(text: str) -> Played:
    rendered = Rendered(
        Script((ScriptEvent(START), ScriptEvent(CHUNK, text), ScriptEvent(END)), shared=True)
    )
    return Played(rendered, sent=len(rendered.writes), finished=True)


def _streamed(played: Played, **headers: str) -> Trace:
    trace = _stream(b'{"message": "hi"}', **headers)
    trace.stream = played
    return trace


def test_a_constant_scripts_events_are_journaled_once_and_shared_frozen() -> None:
    journaling, ring = Journaling(entry_bytes=49152), KeyRing.of({"c": SECRET})
    played = _played("the same reply")
    first = journaling.entry(_streamed(played, traceparent="a"), ring)
    second = journaling.entry(_streamed(played, traceparent="b"), ring)
    assert first.events is second.events  # made once, reused
    assert first.events is not None
    event = first.events[1]
    assert isinstance(event, FrozenEvent)
    with pytest.raises(TypeError):
        event["message"] = "changed by a reader"
    with pytest.raises(TypeError):
        event.update(message="changed")
    with pytest.raises(TypeError):
        del event["message"]
    assert second.as_dict()["events"][1]["message"] == "the same reply"
    # A reader's copy is its own, and changes nothing shared.
    copied = copy.deepcopy(first.events)
    assert copied == first.events
    assert pickle.loads(pickle.dumps(event)) == event
    shown = first.as_dict()["events"]
    shown.append({"extra": "x"})
    assert len(second.as_dict()["events"]) == len(first.events)


def test_a_constant_scripts_events_are_redacted_again_after_a_rotation() -> None:
    journaling = Journaling(entry_bytes=49152)
    played = _played("the word key-to-be, then more")
    before = journaling.entry(_streamed(played), KeyRing.of({"c": SECRET}))
    assert before.events is not None
    assert "key-to-be" in before.events[1]["message"]
    # The key rotated to a word of the constant reply: the reused events are made again.
    rotated = KeyRing.of({"c": "key-to-be"}, ever=[SECRET], version=1)
    after = journaling.entry(_streamed(played, **{"x-old": SECRET}), rotated)
    assert after.events is not None
    assert after.events[1]["message"] == f"the word {REDACTED}, then more"
    assert dict(after.headers)["x-old"] == REDACTED  # the old key, kept among redacted_keys
    assert "key-to-be" not in after.to_json()
    assert SECRET not in after.to_json()


# --- every reader, on both stores --------------------------------------------------------------

ADMIN = "journal-admin-token-4711"
# The new key is a phrase of the default greeting (a constant script): after the rotation, the
# greeting's reused events must be redacted again, never served from before.
NEW_KEY = "How can I help you"


async def _everything_read(client: httpx.AsyncClient, state: str) -> str:
    """All that any reader gets of the journal: the control API's journal and HAR export (what
    ``vivi-emulator journal`` prints or writes), the metrics page, and on Redis the stored
    entries themselves."""
    admin = {"x-vivi-admin-token": ADMIN}
    texts = [
        (await client.get(f"{C}/journal", headers=admin)).text,
        (await client.get(f"{C}/journal.har", headers=admin)).text,
        (await client.get(f"{C}/metrics", headers=admin)).text,
    ]
    if state != "memory":
        redis = Redis.from_url(state)
        try:
            async for name in redis.scan_iter():
                if await redis.type(name) == b"stream":
                    texts.append(repr(await redis.xrange(name)))
        finally:
            await redis.aclose()
    return "\n".join(texts)


async def _streams(client: httpx.AsyncClient, key: str, secrets: str, count: int) -> None:
    """Streams of the constant greeting, each with a real client's headers, new every time."""
    for n in range(count):
        headers = {
            "vivi-api-key": key,
            "traceparent": f"00-{uuid.uuid4().hex}-{n + 1:016x}-01",
            "x-request-id": f"{uuid.uuid4()} {secrets}",
        }
        body = {"message": f"hello, {secrets}", "threadId": str(uuid.uuid4())}
        response = await client.post(url("stream"), headers=headers, json=body)
        assert response.status_code == 200


async def test_no_reader_sees_a_key_with_new_headers_each_request_and_after_a_rotation(
    state: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = Settings(
        access_log=True, reload_fixtures=False, state=state, admin_token=SecretStr(ADMIN)
    )
    admin = {"x-vivi-admin-token": ADMIN}
    async with serving(settings) as client:
        await _streams(client, KEY, f"my key {KEY}, the token {ADMIN}", 3)
        read = await _everything_read(client, state)
        assert KEY not in read
        assert ADMIN not in read
        entries = (await client.get(f"{C}/journal", headers=admin)).json()["entries"]
        assert [e["headers"]["x-request-id"].endswith(f"my key {REDACTED}, the token {REDACTED}")
                for e in entries] == [True] * 3  # fmt: skip
        assert NEW_KEY in "".join(e["message"] for e in entries[0]["events"])  # not a key yet

        assert (await client.delete(f"{C}/journal", headers=admin)).status_code == 200
        rotated = await client.post(
            f"{C}/channels/{CHANNEL}/rotate", headers=admin, json={"key": NEW_KEY}
        )
        assert rotated.status_code == 200
        await _streams(client, NEW_KEY, f"old {KEY} new {NEW_KEY}", 2)
        read = await _everything_read(client, state)
        entries = (await client.get(f"{C}/journal", headers=admin)).json()["entries"]
    for secret in (KEY, NEW_KEY, ADMIN):
        assert secret not in read
        assert secret not in caplog.text  # the access lines
    assert len(entries) == 2
    for entry in entries:
        assert entry["headers"]["vivi-api-key"] == REDACTED
        assert entry["headers"]["x-request-id"].endswith(f"old {REDACTED} new {REDACTED}")
        assert REDACTED in json.dumps(entry["events"])
        assert entry["body"]["message"] == f"hello, old {REDACTED} new {REDACTED}"
