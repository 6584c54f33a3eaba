"""`vivi-emulator record --from-har`: a HAR of the real API (here: the emulator's own export,
and a browser-like one holding the key) becomes fixtures that replay what it holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from vivi_emulator.reading import MAX_HAR_FILE_BYTES
from vivi_emulator.record.from_har import HarError, exchange_of, record_from_har

from tests.server import run_cli, start
from tests.support import THREAD
from tests.test_har import _message, _stream

SECRET = "browser-key-4242"


def _browser_har(answer: str) -> dict[str, Any]:
    frames = "".join(
        f"data: {json.dumps({'message': m, 'event': e})}\n\n"
        for m, e in (
            ("", "on_chat_model_start"),
            (answer, "on_chat_model_stream"),
            ("", "on_chat_model_end"),
        )
    )
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "WebInspector", "version": "537.36"},
            "entries": [
                {
                    "startedDateTime": "2026-01-02T03:04:05.678Z",
                    "time": 900,
                    "request": {
                        "method": "POST",
                        "url": "https://api-prod-x.vivi.bot/channelsApi/ch-1/stream",
                        "headers": [
                            {"name": "vivi-api-key", "value": SECRET},
                            {"name": "content-type", "value": "application/json"},
                        ],
                        "postData": {
                            "mimeType": "application/json",
                            "text": json.dumps({"message": "hello", "threadId": THREAD}),
                        },
                    },
                    "response": {
                        "status": 200,
                        "headers": [{"name": "Content-Type", "value": "text/event-stream"}],
                        "content": {"mimeType": "text/event-stream", "text": frames},
                    },
                    "timings": {"send": 1, "wait": 300, "receive": 600},
                },
                {  # not a message operation: skipped
                    "startedDateTime": "2026-01-02T03:04:06.000Z",
                    "time": 5,
                    "request": {
                        "method": "GET",
                        "url": "https://api-prod-x.vivi.bot/",
                        "headers": [],
                    },
                    "response": {
                        "status": 200,
                        "headers": [],
                        "content": {"mimeType": "text/html"},
                    },
                    "timings": {"wait": 5, "receive": 0},
                },
            ],
        }
    }


def test_a_browser_har_becomes_a_scenario_without_its_key(tmp_path: Path) -> None:
    har = tmp_path / "browser.har"
    har.write_text(json.dumps(_browser_har(f"your key is {SECRET}")))
    path, count = record_from_har(har, tmp_path / "out")
    assert count == 1
    text = path.read_text()
    assert SECRET not in text
    [scenario] = yaml.safe_load(text)["scenarios"]
    assert scenario["match"] == {"message": "hello", "turn": 1}
    frames = scenario["frames"]
    # The first frame at the time to first byte, the others spread over the rest.
    assert [f["after_ms"] for f in frames] == [300.0, 300.0, 300.0]
    assert "[redacted]" in frames[1]["data"]


def test_the_emulators_own_har_round_trips(tmp_path: Path) -> None:
    server = start("--no-reload")
    try:
        assert (
            httpx.post(
                f"{server.base_url}/_emulator/queue", json={"text": "from the HAR"}
            ).status_code
            == 201
        )
        body = _message("replay me")
        first = _stream(server.base_url, body)
        har = tmp_path / "run.har"
        har.write_bytes(httpx.get(f"{server.base_url}/_emulator/journal.har").content)
    finally:
        server.stop()
    out = tmp_path / "fixtures"
    done = run_cli("record", "--from-har", str(har), "--out", str(out))
    assert done.returncode == 0, done.stderr
    replay = start("--no-reload", "--fixtures", str(out))
    try:
        again = _stream(replay.base_url, _message("replay me"))
    finally:
        replay.stop()
    assert again == first


def test_a_file_that_is_not_a_har_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.har"
    bad.write_text('{"log": {}}')
    with pytest.raises(HarError, match=r"no log\.entries"):
        record_from_har(bad, tmp_path / "out")
    done = run_cli("record", "--from-har", str(bad), "--out", str(tmp_path / "out"))
    assert done.returncode == 1
    assert "no log.entries" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_device_or_an_oversize_har_is_refused_unread(tmp_path: Path) -> None:
    # /dev/zero would be read without end; a file past the bound is refused before it is read.
    with pytest.raises(HarError, match="not a regular file"):
        record_from_har(Path("/dev/zero"), tmp_path / "out")
    big = tmp_path / "big.har"
    with big.open("wb") as out:
        out.truncate(MAX_HAR_FILE_BYTES + 1)
    with pytest.raises(HarError, match="over the limit"):
        record_from_har(big, tmp_path / "out")


def test_upstream_or_har_not_both() -> None:
    done = run_cli("record")
    assert done.returncode == 2
    assert "--upstream" in done.stderr


def test_a_get_is_not_an_exchange() -> None:
    entry = _browser_har("x")["log"]["entries"][1]
    assert exchange_of(entry) is None
