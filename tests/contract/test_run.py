"""schemathesis, every phase and every check, against the in-process emulator and live targets."""

from __future__ import annotations

from typing import Any

import pytest
from schemathesis.transport.serialization import Binary

from vivi_emulator import sse
from vivi_emulator.app import create_app
from vivi_emulator.contract.options import RunOptions
from vivi_emulator.contract.run import _UploadCap, check_conformance
from vivi_emulator.settings import Settings

from tests.contract.standin import STANDIN_CHANNEL, STANDIN_KEY, Counting, drifting_app, serve
from tests.support import CHANNEL, KEY

ALL_OPERATIONS = {
    "POST /channelsApi/{channelId}/stream",
    "POST /channelsApi/{channelId}/invoke",
    "POST /channelsApi/{channelId}/batch",
    "POST /channelsApi/{channelId}/files",
    "GET /channelsApi/{channelId}/files/{fileId}/{fileName}",
}


def test_emulator_conforms_to_the_contract() -> None:
    result = check_conformance(
        create_app(Settings(access_log=False)),
        RunOptions(channel_id=CHANNEL, api_key=KEY, max_examples=25, seed=20261125),
    )
    assert result.findings == []
    assert result.errors == []
    assert result.operations >= ALL_OPERATIONS


def test_a_drifting_stream_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same run fails when the events break the contract: the check can fail."""

    def wrong(message: str, event: str) -> bytes:
        return b'data: {"text": "' + message.encode() + b'"}\n\n'

    monkeypatch.setattr(sse, "encode_event", wrong)
    monkeypatch.setattr(sse, "_FIXED_FRAMES", {})
    result = check_conformance(
        create_app(Settings(access_log=False)),
        RunOptions(
            channel_id=CHANNEL,
            api_key=KEY,
            max_examples=5,
            seed=1,
            phases=("examples",),
            operations=("streamMessage",),
        ),
    )
    # schemathesis' own check, and the stream check with the event's index and bytes.
    assert {(f.operation, f.check) for f in result.findings} == {
        ("POST /channelsApi/{channelId}/stream", "response_schema_conformance"),
        ("POST /channelsApi/{channelId}/stream", "stream_event_conformance"),
    }
    assert all("message" in f.message for f in result.findings)
    [by_event] = [f for f in result.findings if f.check == "stream_event_conformance"]
    assert by_event.title == "SSE event #0 violates the item schema"
    assert """Raw bytes: b'data: {"text": ""}\\n\\n'""" in by_event.message
    assert KEY not in str(result.findings)


def test_the_rate_limit_spaces_the_requests() -> None:
    counting = Counting(drifting_app)
    with serve(counting) as base:
        result = check_conformance(
            base,
            RunOptions(
                channel_id=STANDIN_CHANNEL,
                api_key=STANDIN_KEY,
                operations=("invokeMessage",),
                phases=("coverage",),
                max_examples=2,
                rate_limit="4/s",
                max_time=2,
            ),
        )
    times = counting.times
    assert len(times) >= 5
    assert result.findings
    # Never more than the limit (plus one for the bucket's edge) within any second.
    for index, first in enumerate(times):
        assert sum(1 for t in times[index:] if t - first < 1.0) <= 5


def test_unknown_phases_and_operations_are_refused_and_the_key_is_never_shown() -> None:
    with pytest.raises(ValueError, match="unknown phase"):
        RunOptions(channel_id="c", api_key="k", phases=("warp",))
    assert "s3cr3t" not in repr(RunOptions(channel_id="c", api_key="s3cr3t"))
    with pytest.raises(ValueError, match="unknown operation id 'nope'"):
        check_conformance(
            "http://127.0.0.1:9", RunOptions(channel_id="c", api_key="k", operations=("nope",))
        )


def test_uploads_are_cut_in_place() -> None:
    class Case:
        def __init__(self) -> None:
            self.body: Any = {
                "files": [Binary(b"x" * 100), b"y" * 100, Binary(b"z")],
                "n": b"w" * 9,
            }

    case = Case()
    files = case.body["files"]
    _UploadCap(8)(None, case)
    assert case.body["files"] is files
    assert [len(f.data) if isinstance(f, Binary) else len(f) for f in files] == [8, 8, 1]
    assert case.body["n"] == b"w" * 8
