from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from vivi_emulator.scenarios.script import ScriptEvent
from vivi_emulator.sse import encode_event, frame


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
