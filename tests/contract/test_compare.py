"""`contract --compare`: recorded answers checked against the contract, without any request."""

from __future__ import annotations

import uuid
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from vivi_emulator.app import create_app
from vivi_emulator.cli import app as cli_app
from vivi_emulator.cli.contract import JUNIT_NAME, MARKDOWN_NAME
from vivi_emulator.record.proxy import RecordingProxy
from vivi_emulator.settings import Settings, parse_channels

from tests.contract.standin import STANDIN_CHANNEL, STANDIN_KEY, drifting_app, serve

EMULATOR_KEY = "compare-key-93ab1c"


def exchanges(base: str, channel: str, key: str) -> None:
    """What a client does: a stream, an invoke, a wrong key, a scripted 429, an invalid body."""
    auth = {"vivi-api-key": key}
    body = {"message": "hello", "threadId": str(uuid.uuid4())}
    with httpx.Client(base_url=f"{base}/channelsApi/{channel}", timeout=10) as client:
        assert client.post("/stream", json=body, headers=auth).status_code == 200
        assert client.post("/invoke", json=body, headers=auth).status_code == 200
        client.post("/invoke", json=body, headers={"vivi-api-key": "wrong"})
        client.post("/invoke", json=body, headers={**auth, "x-vivi-scenario": "rate-limited"})
        client.post("/stream", json={"message": ""}, headers=auth)


def record(upstream_app: object, folder: Path, channel: str, key: str) -> Path:
    with serve(upstream_app) as upstream:  # type: ignore[arg-type]
        proxy = RecordingProxy(upstream, folder)
        with serve(proxy) as base:
            exchanges(base, channel, key)
    return proxy.recording.path


def compare(tmp_path: Path, *paths: Path) -> tuple[int, str, str, ET.Element]:
    reports = tmp_path / "reports"
    args = ["contract", "--no-color", "--report-dir", str(reports)]
    for path in paths:
        args += ["--compare", str(path)]
    result = CliRunner().invoke(cli_app, args)
    markdown = (reports / MARKDOWN_NAME).read_text()
    junit = ET.parse(reports / JUNIT_NAME).getroot()
    return result.exit_code, result.output, markdown, junit


@pytest.fixture(scope="module")
def emulator_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    channels = parse_channels(f"demo-channel={EMULATOR_KEY}")
    settings = Settings.model_validate(
        {"channels": channels, "access_log": False, "reload_fixtures": False}
    )
    folder = tmp_path_factory.mktemp("emulator-recording")
    return record(create_app(settings), folder, "demo-channel", EMULATOR_KEY)


def test_recordings_of_the_emulator_conform(tmp_path: Path, emulator_recording: Path) -> None:
    text = emulator_recording.read_text()
    assert EMULATOR_KEY not in text
    statuses = [s["recorded"]["status"] for s in yaml.safe_load(text)["scenarios"]]
    assert statuses == [200, 200, 401, 429, 422]
    code, output, markdown, junit = compare(tmp_path, emulator_recording.parent)
    assert code == 0, output
    assert "PASS" in output
    assert "| recorded answers | 5 |" in markdown
    assert junit.get("failures") == "0"


def test_recordings_of_a_drifting_api_name_each_drift(tmp_path: Path) -> None:
    recording = record(drifting_app, tmp_path / "rec", STANDIN_CHANNEL, STANDIN_KEY)
    assert STANDIN_KEY not in recording.read_text()
    code, output, markdown, junit = compare(tmp_path, recording)
    assert code == 1, output
    # The wrong event JSON (documented), the invoke without threadId and the 400 for a bad key
    # (both inferred).
    assert "`#/components/schemas/StreamEvent/properties/message` (documented)" in markdown
    assert "`#/components/schemas/InvokeResponse/properties/threadId` (inferred)" in markdown
    assert "Undocumented status code" in markdown
    assert "Received: 400" in markdown
    undocumented = "`#/paths/~1channelsApi~1{channelId}~1invoke/post/responses` (inferred)"
    assert undocumented in markdown
    types = {f.get("type") for f in junit.iter("failure")}
    assert types == {"documented", "inferred"}


def test_compare_names_a_missing_file(tmp_path: Path) -> None:
    code, _, markdown, _ = compare(tmp_path, tmp_path / "nowhere")
    assert code == 1
    assert "no such file" in markdown


def test_a_recorded_stream_is_checked_event_by_event(tmp_path: Path) -> None:
    good = 'data: {"message": "x", "event": "on_chat_model_stream"}\n\n'
    bad = 'data: {"message": "x", "event": "chat model"}\n\n'
    recording = tmp_path / "recording.yaml"
    scenario = {
        "name": "rec-1",
        "frames": [{"raw": good}] * 40 + [{"raw": bad}] + [{"raw": good}],
        "recorded": {
            "operation": "POST /channelsApi/{channelId}/stream",
            "status": 200,
            "headers": {"content-type": "text/event-stream; charset=utf-8"},
        },
    }
    recording.write_text(yaml.safe_dump({"version": 1, "scenarios": [scenario]}))
    code, out, markdown, _ = compare(tmp_path, recording)
    assert code == 1, out
    assert "SSE event #40 violates the item schema" in markdown
    assert "Schema path: #/components/schemas/StreamEvent/properties/event/pattern" in markdown
    assert repr(bad.encode()) in markdown
