"""`vivi-emulator journal`: the journal of a running emulator as JSON or a HAR file, the admin
token from the environment only."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx

from tests.server import CLI, run_cli, start
from tests.support import THREAD
from tests.test_har import _message, _stream, _validate


def test_the_cli_writes_the_har_with_the_token_from_the_environment(tmp_path: Path) -> None:
    token = "har-admin-token-5150"
    server = start("--host", "0.0.0.0", "--no-reload", env={"VIVI_EMULATOR_ADMIN_TOKEN": token})
    try:
        received = _stream(server.base_url, _message("for the file"))
        out = tmp_path / "run.har"
        env = {k: v for k, v in os.environ.items() if k != "VIVI_EMULATOR_ADMIN_TOKEN"}
        args = [CLI, "journal", "--url", server.base_url, "--har", str(out)]
        refused = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
        assert refused.returncode == 1
        assert "VIVI_EMULATOR_ADMIN_TOKEN" in refused.stderr
        env["VIVI_EMULATOR_ADMIN_TOKEN"] = token
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    finally:
        server.stop()
    har = json.loads(out.read_text())
    _validate(har)
    assert har["log"]["entries"][0]["response"]["content"]["text"].encode() == received
    assert token not in out.read_text()


def test_without_har_it_prints_the_journal() -> None:
    server = start("--no-reload")
    try:
        # A real client's headers, one of them carrying the key: the printed journal has none.
        httpx.post(
            f"{server.base_url}/channelsApi/demo-channel/invoke",
            headers={
                "vivi-api-key": "demo-key",
                "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                "x-request-id": "req-1 demo-key",
            },
            json={"message": "hi", "threadId": THREAD},
        )
        done = run_cli("journal", "--url", server.base_url, "--thread", THREAD)
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    [entry] = json.loads(done.stdout)["entries"]
    assert (entry["thread"], entry["status"]) == (THREAD, 200)
    assert "demo-key" not in done.stdout
    assert entry["headers"]["x-request-id"] == "req-1 [redacted]"


def test_an_emulator_that_is_not_there_is_named(tmp_path: Path) -> None:
    done = run_cli("journal", "--url", "http://127.0.0.1:9", "--har", str(tmp_path / "x.har"))
    assert done.returncode == 1
    assert "cannot reach the emulator at http://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr
