"""The fixture writer: which headers are never written, frames as data or raw, contract labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vivi_emulator.record.recording import (
    Exchange,
    Recording,
    TimedFrames,
    frame_spec,
    is_credential,
    operation_label,
)
from vivi_emulator.redaction import Redactor
from vivi_emulator.scenarios.loader import parse_file

from tests.support import THREAD


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("Authorization", True),
        ("vivi-api-key", True),
        ("X-Api-Key", True),
        ("Set-Cookie", True),
        ("x-session-id", True),
        ("x-vivi-admin-token", True),
        ("x-accel-buffering", False),
        ("retry-after", False),
        ("content-type", False),
    ],
)
def test_credential_headers(name: str, credential: bool) -> None:
    assert is_credential(name) is credential


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("/channelsApi/c1/stream", "POST /channelsApi/{channelId}/stream"),
        (
            "/channelsApi/c1/files/ab12/x.txt",
            "POST /channelsApi/{channelId}/files/{fileId}/{fileName}",
        ),
        ("/_emulator/health", "POST /_emulator/health"),
    ],
)
def test_operation_labels_are_the_contracts(path: str, label: str) -> None:
    assert operation_label("POST", path) == label


def test_frames_keep_their_bytes_and_times_whatever_their_line_endings() -> None:
    frames = TimedFrames(started=10.0)
    frames.feed(b'data: {"a": 1}\n\ndata: {"b"', now=10.25)
    frames.feed(b": 2}\r\n\r\n: comment\rdata: x\r\r", now=10.5)
    frames.feed(b"data: cut", now=10.75)
    frames.finish(now=11.0)
    assert frames.frames == [
        (250.0, b'data: {"a": 1}\n\n'),
        (250.0, b'data: {"b": 2}\r\n\r\n'),
        # A CR that ends a chunk may be half a CRLF: its frame is cut when the next byte comes.
        (250.0, b": comment\rdata: x\r\r"),
        (250.0, b"data: cut"),
    ]
    specs = [frame_spec(ms, raw) for ms, raw in frames.frames]
    assert specs[0] == {"after_ms": 250.0, "data": '{"a": 1}'}
    assert [list(s)[1] for s in specs] == ["data", "raw", "raw", "raw"]


def test_turns_follow_threads_and_only_message_operations_are_recorded(tmp_path: Path) -> None:
    recording = Recording(tmp_path, "https://vivi.test", Redactor())

    def exchange(path: str, body: object, status: int = 200) -> Exchange:
        answer = json.dumps({"message": "hi there", "threadId": THREAD}).encode()
        return Exchange(
            method="POST",
            path=path,
            request_body=json.dumps(body).encode(),
            started=0.0,
            at="2026-01-01T00:00:00+00:00",
            status=status,
            headers=[("content-type", "application/json")],
            body=bytearray(answer),
        )

    message = {"message": "hello", "threadId": THREAD}
    assert recording.add(exchange("/channelsApi/c/files", {})) is None
    assert recording.add(exchange("/channelsApi/c/batch", {"messages": [message]})) is None
    first = recording.add(exchange("/channelsApi/c/invoke", message))
    refused = recording.add(exchange("/channelsApi/c/invoke", message, status=401))
    assert first is not None
    assert first["match"] == {"message": "hello", "turn": 2}  # the batch opened turn 1
    assert refused is not None
    assert "match" not in refused  # the emulator's own answer: chosen only by name
    recording.write()
    scenarios, problems = parse_file(recording.path)
    assert problems == []
    assert [s.name for s in scenarios] == [first["name"], refused["name"]]
    assert scenarios[0].frames is not None
    assert "".join(f.data or "" for f in scenarios[0].frames).count("hi there") == 1
