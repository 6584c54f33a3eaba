"""schemathesis, every phase and every check, against the in-process emulator."""

from __future__ import annotations

import pytest

from vivi_emulator import sse
from vivi_emulator.app import create_app
from vivi_emulator.conformance import check_conformance
from vivi_emulator.settings import Settings

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
        app=create_app(Settings(access_log=False)),
        channel_id=CHANNEL,
        api_key=KEY,
        max_examples=25,
        seed=20261125,
    )
    assert result.findings == []
    assert result.errors == []
    assert result.operations >= ALL_OPERATIONS


def test_a_drifting_stream_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same run fails when the events break the contract: the check can fail."""

    def wrong(message: str, event: str) -> bytes:
        return b'data: {"text": "' + message.encode() + b'"}\n\n'

    monkeypatch.setattr(sse, "encode_event", wrong)
    monkeypatch.setattr(sse, "_CONSTANT", {})
    result = check_conformance(
        app=create_app(Settings(access_log=False)),
        channel_id=CHANNEL,
        api_key=KEY,
        max_examples=5,
        seed=1,
        phases=["examples"],
        operations=["streamMessage"],
    )
    assert [f.operation for f in result.findings] == ["POST /channelsApi/{channelId}/stream"]
    assert "message" in result.findings[0].message
    assert KEY not in str(result.findings)
