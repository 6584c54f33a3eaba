"""The plan: a Script and its wire options in, the exact timed writes out (no server)."""

from __future__ import annotations

from typing import Any

import pytest

from vivi_emulator import sse
from vivi_emulator.script import CHUNK, END, START, Script, ScriptEvent
from vivi_emulator.streaming import encoded
from vivi_emulator.wire import WireOptions, plan, with_wire
from vivi_emulator.wire.plan import BOM

from tests.support import reply_script

START_LINE = b'data: {"message": "", "event": "on_chat_model_start"}'
END_LINE = b'data: {"message": "", "event": "on_chat_model_end"}'


def chunk_line(text: str) -> bytes:
    return b'data: {"message": "' + text.encode() + b'", "event": "on_chat_model_stream"}'


def wired(script: Script, time_scale: float = 1.0, **options: Any) -> list[tuple[float, bytes]]:
    made = plan(with_wire(script, WireOptions.model_validate(options), time_scale=time_scale))
    return [(round(delay, 9), data) for delay, data, _ in made.writes]


def stream_bytes(writes: list[tuple[float, bytes]]) -> bytes:
    return b"".join(data for _, data in writes)


HI = reply_script("Hi there")  # start, "Hi ", "there", end; all due at once


def test_empty_options_give_the_docs_framing_in_the_docs_writes() -> None:
    default = [(delay, data) for delay, data, _ in encoded(reply_script("Hi there"))]
    assert wired(HI) == default
    assert stream_bytes(wired(HI)) == (
        START_LINE
        + b"\n\n"
        + chunk_line("Hi ")
        + b"\n\n"
        + chunk_line("there")
        + b"\n\n"
        + END_LINE
        + b"\n\n"
    )


@pytest.mark.parametrize(("ending", "eol"), [("crlf", b"\r\n"), ("cr", b"\r")])
def test_line_endings(ending: str, eol: bytes) -> None:
    assert stream_bytes(wired(HI, line_ending=ending)) == (
        START_LINE
        + eol * 2
        + chunk_line("Hi ")
        + eol * 2
        + chunk_line("there")
        + eol * 2
        + END_LINE
        + eol * 2
    )


def test_line_endings_also_apply_to_verbatim_frames() -> None:
    script = Script(events=(ScriptEvent(START), ScriptEvent(CHUNK, raw=b"data: {oops\n\n")))
    assert stream_bytes(wired(script, line_ending="crlf")) == (
        START_LINE + b"\r\n\r\ndata: {oops\r\n\r\n"
    )


def test_bom_comes_before_the_first_frame_only() -> None:
    data = stream_bytes(wired(HI, bom=True))
    assert data.startswith(BOM + START_LINE)
    assert data.count(BOM) == 1


def test_non_ascii_as_raw_utf8() -> None:
    script = reply_script("Grüße ✓ 🙂")
    escaped = stream_bytes(wired(script))
    assert b"Gr\\u00fc\\u00dfe " in escaped
    assert escaped.isascii()
    raw = stream_bytes(wired(script, non_ascii="utf8"))
    assert chunk_line("Grüße ") in raw
    assert chunk_line("✓ ") in raw
    assert chunk_line("🙂") in raw


def test_event_ids_count_events_from_one_and_retry_goes_in_the_first() -> None:
    assert stream_bytes(wired(HI, event_ids=True, retry_ms=3000)) == (
        b"retry: 3000\nid: 1\n" + START_LINE + b"\n\n"
        b"id: 2\n" + chunk_line("Hi ") + b"\n\n"
        b"id: 3\n" + chunk_line("there") + b"\n\n"
        b"id: 4\n" + END_LINE + b"\n\n"
    )


def test_split_at_offsets_cuts_every_frame_into_separate_writes() -> None:
    writes = wired(HI, split={"at": [6, -1]})
    assert [data for _, data in writes[:3]] == [b"data: ", START_LINE[6:] + b"\n", b"\n"]
    assert len(writes) == 12
    assert all(delay == 0 for delay, _ in writes)
    assert stream_bytes(writes) == stream_bytes(wired(HI))


def test_split_inside_utf8_falls_inside_every_multibyte_character() -> None:
    script = reply_script("ü✓🙂", chunks=["ü✓🙂"])
    writes = wired(script, non_ascii="utf8", split={"inside": "utf8"})
    pieces = [data for _, data in writes]
    assert pieces[1:5] == [
        b'data: {"message": "\xc3',
        b"\xbc\xe2",
        b"\x9c\x93\xf0",
        b'\x9f\x99\x82", "event": "on_chat_model_stream"}\n\n',
    ]
    for piece in pieces[1:4]:
        with pytest.raises(UnicodeDecodeError):
            piece.decode("utf-8")


def test_split_inside_crlf_falls_between_every_cr_and_lf() -> None:
    writes = wired(HI, line_ending="crlf", split={"inside": "crlf"})
    assert [data for _, data in writes[:3]] == [START_LINE + b"\r", b"\n\r", b"\n"]
    assert stream_bytes(writes) == stream_bytes(wired(HI, line_ending="crlf"))


def test_split_every_byte() -> None:
    writes = wired(HI, split={"every": 1})
    assert all(len(data) == 1 for _, data in writes)
    assert stream_bytes(writes) == stream_bytes(wired(HI))


def test_split_random_is_seeded_and_cuts_every_frame() -> None:
    def cut(seed: int) -> list[bytes]:
        script = with_wire(HI, WireOptions(split="random"), seed=seed)
        return [data for _, data, _ in plan(script).writes]

    assert cut(1) == cut(1)
    assert cut(1) != cut(2)
    assert b"".join(cut(1)) == stream_bytes(wired(HI))
    assert 8 <= len(cut(1)) <= 16  # 4 frames, each in 2 to 4 pieces
    assert not any(piece.endswith(b"\n\n") and piece.startswith(b"data") for piece in cut(1))


def test_split_gap_pauses_between_pieces() -> None:
    assert [delay for delay, _ in wired(HI, split={"at": -1, "gap_ms": 10})] == [0, 0.01] * 4
    halved = wired(HI, time_scale=0.5, split={"at": -1, "gap_ms": 10})
    assert [delay for delay, _ in halved] == [0, 0.005] * 4


TIMED = Script(
    events=(
        ScriptEvent(START),
        *(ScriptEvent(CHUNK, f"c{i} ", delay=0.1) for i in range(4)),
        ScriptEvent(END),
    )
)


def test_coalesce_sends_n_frames_a_write_when_the_last_is_due() -> None:
    writes = wired(TIMED, coalesce={"frames": 3})
    assert writes == [
        (0.2, START_LINE + b"\n\n" + chunk_line("c0 ") + b"\n\n" + chunk_line("c1 ") + b"\n\n"),
        (0.2, chunk_line("c2 ") + b"\n\n" + chunk_line("c3 ") + b"\n\n" + END_LINE + b"\n\n"),
    ]


def test_coalesce_with_split_makes_writes_straddle_frames() -> None:
    writes = wired(TIMED, coalesce=True, split={"at": -1})
    assert writes[:3] == [
        (0, START_LINE + b"\n"),
        (0.1, b"\n" + chunk_line("c0 ") + b"\n"),
        (0, b"\n"),
    ]
    assert stream_bytes(writes) == stream_bytes(wired(TIMED))


def test_keepalive_comments_fill_each_silence() -> None:
    script = Script(events=(ScriptEvent(START, delay=0.25), ScriptEvent(CHUNK, "a", delay=0.35)))
    writes = wired(script, keepalive={"every_ms": 100, "comment": "ping"})
    assert writes == [
        (0.1, b": ping\n\n"),
        (0.1, b": ping\n\n"),
        (0.05, START_LINE + b"\n\n"),
        (0.1, b": ping\n\n"),
        (0.1, b": ping\n\n"),
        (0.1, b": ping\n\n"),
        (0.05, chunk_line("a") + b"\n\n"),
    ]
    halved = Script(
        events=(ScriptEvent(START, delay=0.125), ScriptEvent(CHUNK, "a", delay=0.175))
    )  # as the engine scales a script's delays
    scaled = wired(halved, time_scale=0.5, keepalive={"every_ms": 100})
    assert scaled == [(round(delay / 2, 9), data) for delay, data in writes]


def test_keepalive_uses_the_line_ending() -> None:
    script = Script(events=(ScriptEvent(START, delay=0.15),))
    assert wired(script, line_ending="cr", keepalive={"every_ms": 100, "comment": "hb"}) == [
        (0.1, b": hb\r\r"),
        (0.05, START_LINE + b"\r\r"),
    ]


def test_oversize_is_one_data_line_of_exactly_the_size() -> None:
    data = stream_bytes(wired(HI, oversize={"bytes": 200_000}))
    frames = sse.split_frames(data)
    assert frames[0] == START_LINE + b"\n\n"
    assert len(frames[1]) == 200_000 + len(b"\n\n")
    assert frames[1].startswith(b'data: {"message": "lorem ipsum ')
    assert frames[1].endswith(b'", "event": "on_tool_end"}\n\n')
    assert frames[2] == chunk_line("Hi ") + b"\n\n"


def test_the_journal_sees_each_event_once_when_its_last_byte_is_written() -> None:
    options = WireOptions.model_validate({"split": {"at": -1}, "oversize": {"bytes": 100}})
    made = plan(with_wire(HI, options))
    journal = [event for _, _, events in made.writes for event in events]
    assert journal == [
        {"message": "", "event": "on_chat_model_start"},
        {"wire": "oversize", "event": "on_tool_end", "bytes": "100"},
        {"message": "Hi ", "event": CHUNK},
        {"message": "there", "event": CHUNK},
        {"message": "", "event": END},
    ]
    assert [events for _, data, events in made.writes[:2]] == [[], [journal[0]]]


def test_proxy_buffered_holds_everything_to_the_end() -> None:
    made = plan(with_wire(TIMED, WireOptions(preset="proxy-buffered")))
    assert [(round(d, 9), data) for d, data, _ in made.writes] == [
        (0.4, stream_bytes(wired(TIMED)))
    ]
    assert not made.abort


def test_proxy_buffered_with_a_buffer_size_flushes_as_it_fills() -> None:
    made = plan(with_wire(TIMED, WireOptions(preset="proxy-buffered", buffer_bytes=100)))
    sizes = [len(data) for _, data, _ in made.writes]
    # 57, then 63 bytes a frame: flushed at 0.1 (120 bytes), 0.3 (126), 0.4 (the rest).
    assert [round(d, 9) for d, _, _ in made.writes] == [0.1, 0.2, 0.1]
    assert all(size >= 100 for size in sizes[:-1])
    assert b"".join(data for _, data, _ in made.writes) == stream_bytes(wired(TIMED))


def test_idle_cut_closes_after_the_first_silence_as_long_as_the_limit() -> None:
    script = Script(events=(ScriptEvent(START), ScriptEvent(CHUNK, "a", delay=90)))
    made = plan(with_wire(script, WireOptions(preset="idle-cut")))
    assert [data for _, data, _ in made.writes] == [START_LINE + b"\n\n"]
    assert (made.abort, made.linger) == (True, 60.0)
    scaled = plan(with_wire(script, WireOptions(preset="idle-cut"), time_scale=0.01))
    assert scaled.linger == pytest.approx(0.6)


def test_idle_cut_spares_a_stream_kept_alive() -> None:
    script = Script(events=(ScriptEvent(START), ScriptEvent(CHUNK, "a", delay=90)))
    options = WireOptions.model_validate({"preset": "idle-cut", "keepalive": {"every_ms": 15_000}})
    made = plan(with_wire(script, options))
    assert not made.abort
    assert made.writes[-1][1] == chunk_line("a") + b"\n\n"


def test_chunked_cut_sends_everything_then_no_terminator() -> None:
    made = plan(with_wire(HI, WireOptions(preset="chunked-cut")))
    assert b"".join(data for _, data, _ in made.writes) == stream_bytes(wired(HI))
    assert made.abort


def test_chunked_cut_after_bytes_cuts_mid_frame() -> None:
    made = plan(with_wire(HI, WireOptions(preset="chunked-cut", cut_after_bytes=60)))
    assert [data for _, data, _ in made.writes] == [stream_bytes(wired(HI))[:60]]
    assert made.writes[0][1].endswith(b"\n\ndata:")
    assert [e for _, _, events in made.writes for e in events] == [{"message": "", "event": START}]
    assert made.abort


def test_a_scripted_disconnect_still_closes_the_connection() -> None:
    script = Script(events=(ScriptEvent(START),), abort=True)
    assert plan(with_wire(script, WireOptions(line_ending="crlf"))).abort
