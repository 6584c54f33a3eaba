from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vivi_emulator.script import ScriptEvent
from vivi_emulator.sse import (
    FrameSplitter,
    encode_data,
    encode_event,
    event_data,
    frame,
    frame_data,
    is_vivi_framed,
    parse_event,
    split_frames,
)


def test_docs_sample_lines_byte_for_byte() -> None:
    assert frame(ScriptEvent("on_chat_model_start")) == (
        b'data: {"message": "", "event": "on_chat_model_start"}\n\n'
    )
    assert frame(ScriptEvent("on_chat_model_stream", "Hello")) == (
        b'data: {"message": "Hello", "event": "on_chat_model_stream"}\n\n'
    )


def test_raw_frames_are_sent_verbatim() -> None:
    assert frame(ScriptEvent("on_chat_model_stream", raw=b"data: {oops\n\n")) == b"data: {oops\n\n"


@given(st.text(), st.from_regex(r"on_[a-z_]{1,20}", fullmatch=True))
def test_any_text_is_one_data_line_that_decodes_back(message: str, event: str) -> None:
    encoded = encode_event(message, event)
    assert encoded.startswith(b"data: ")
    assert encoded.endswith(b"\n\n")
    line = encoded[len(b"data: ") : -2]
    assert b"\n" not in line
    assert b"\r" not in line
    assert json.loads(line) == {"message": message, "event": event}
    assert list(json.loads(line)) == ["message", "event"]


def test_non_ascii_is_escaped_as_python_json_dumps_does() -> None:
    assert frame(ScriptEvent("on_chat_model_stream", "héllo ✓")) == (
        b'data: {"message": "h\\u00e9llo \\u2713", "event": "on_chat_model_stream"}\n\n'
    )


# --- decoding ---------------------------------------------------------------------------------

NEWLINES = st.sampled_from([b"\n", b"\r\n", b"\r"])


@given(
    st.lists(st.tuples(st.text(), st.from_regex(r"on_[a-z_]{1,20}", fullmatch=True)), max_size=8),
    NEWLINES,
    st.lists(st.integers(min_value=0, max_value=400), max_size=6),
)
def test_frames_split_back_whatever_the_line_endings_and_the_chunks(
    events: list[tuple[str, str]], newline: bytes, cuts: list[int]
) -> None:
    frames = [encode_event(m, e).replace(b"\n", newline) for m, e in events]
    stream = b"".join(frames)
    splitter = FrameSplitter()
    got: list[bytes] = []
    start = 0
    for cut in sorted(cuts):
        got += splitter.feed(stream[start:cut])
        start = max(start, cut)
    got += splitter.feed(stream[start:])
    # A stream ending in CR keeps its last frame until the end: it may be half a CRLF.
    got += [rest] if (rest := splitter.finish()) else []
    assert got == frames
    decoded = [parse_event(frame_data(f) or "") for f in frames]
    assert decoded == [(e, m) for m, e in events]


def test_a_frame_waits_for_its_blank_line_and_a_trailing_cr_for_the_next_byte() -> None:
    splitter = FrameSplitter()
    assert splitter.feed(b"data: a\n") == []
    assert splitter.feed(b"\ndata: b\r\n\r") == [b"data: a\n\n"]
    # The CR may be half of a CRLF: the frame is cut once the next byte says which.
    assert splitter.feed(b"\n: comment\n\n") == [b"data: b\r\n\r\n", b": comment\n\n"]
    assert splitter.feed(b"data: c\r\r") == []
    assert splitter.finish() == b"data: c\r\r"
    assert split_frames(b"data: x\n\ndata: cut") == [b"data: x\n\n", b"data: cut"]


@pytest.mark.parametrize(
    ("raw", "data"),
    [
        (b"data: x\n\n", "x"),
        (b"data:x\n\n", "x"),
        (b"data:  x\n\n", " x"),
        (b"data\n\n", ""),
        (b"data: a\r\ndata: b\r\n\r\n", "a\nb"),
        (b": comment\revent: e\rid: 1\rdata: {}\r\r", "{}"),
        (b": only a comment\n\n", None),
        (b"datum: x\n\n", None),
    ],
)
def test_the_data_of_a_frame_as_a_client_reads_it(raw: bytes, data: str | None) -> None:
    assert frame_data(raw) == data
    assert frame_data(raw.decode()) == data


def test_vivi_events_and_vivi_framing_are_recognised_exactly() -> None:
    assert parse_event('{"message": "hi", "event": "on_chat_model_stream"}') == (
        "on_chat_model_stream",
        "hi",
    )
    for data in ("{oops", "[]", '{"message": 1, "event": "e"}', '{"event": "e"}'):
        assert parse_event(data) is None
    assert is_vivi_framed(encode_event("hi", "on_chat_model_stream"))
    for other in (b"data:x\n\n", b"data: x\r\n\r\n", b"data: a\ndata: b\n\n", b": c\ndata: x\n\n"):
        assert not is_vivi_framed(other)


def test_data_with_line_breaks_is_one_data_line_per_line() -> None:
    assert encode_data("one line") == b"data: one line\n\n"
    assert encode_data("a\r\nb\nc") == b"data: a\ndata: b\ndata: c\n\n"
    assert frame_data(encode_data("a\nb")) == "a\nb"
    assert event_data("é", "on_tool_start") == '{"message": "\\u00e9", "event": "on_tool_start"}'
