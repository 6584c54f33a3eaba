"""`vivi-emulator contract` against live targets on loopback ports: exit status and reports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from typer.testing import CliRunner

from vivi_emulator.cli import app as cli_app
from vivi_emulator.cli.contract import (
    JUNIT_NAME,
    MARKDOWN_NAME,
    ContractArgs,
    described,
    run_options,
)

from tests.contract.standin import (
    STANDIN_CHANNEL,
    STANDIN_KEY,
    drifting_app,
    endless_app,
    serve,
)
from tests.server import CLI, start

LIVE_CHANNEL = "live-channel"
LIVE_KEY = "live-key-0d41c7e2a9"
# Quick runs: few examples, no rate limit (loopback), no progress lines.
QUICK = ["--max-examples", "2", "--rate-limit", "none", "--no-progress", "--seed", "1"]


@dataclass
class Run:
    code: int
    out: str
    report: str
    junit: ET.Element
    seconds: float

    def everything(self) -> str:
        return self.out + self.report + ET.tostring(self.junit, "unicode")


def contract(folder: Path, *args: str, key: str, timeout: float = 120) -> Run:
    started = time.monotonic()
    env = {**os.environ, "VIVI_API_KEY": key, "NO_COLOR": "1"}
    done = subprocess.run(
        [CLI, "contract", *args, "--report-dir", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    seconds = time.monotonic() - started
    report = (folder / MARKDOWN_NAME).read_text()
    junit = ET.parse(folder / JUNIT_NAME).getroot()
    return Run(done.returncode, done.stdout + done.stderr, report, junit, seconds)


@pytest.fixture(scope="module")
def drifting() -> Iterator[str]:
    with serve(drifting_app) as base:
        yield base


def test_a_live_emulator_conforms(tmp_path: Path) -> None:
    emulator = start(
        "--no-access-log", env={"VIVI_EMULATOR_CHANNELS": f"{LIVE_CHANNEL}={LIVE_KEY}"}
    )
    try:
        run = contract(
            tmp_path, "--url", emulator.base_url, "--channel", LIVE_CHANNEL, *QUICK, key=LIVE_KEY
        )
    finally:
        emulator.stop()
    assert run.code == 0, run.out
    assert "PASS" in run.out
    assert "**PASS: the target conforms to the contract.**" in run.report
    suite = run.junit.find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "0"
    assert suite.get("errors") == "0"
    assert int(suite.get("tests", "0")) > 20
    assert LIVE_KEY not in run.everything()


def test_a_drifting_target_fails_with_each_drift_named(tmp_path: Path, drifting: str) -> None:
    run = contract(
        tmp_path,
        "--url",
        drifting,
        "--channel",
        STANDIN_CHANNEL,
        "--operation",
        "streamMessage",
        "--operation",
        "invokeMessage",
        *QUICK,
        key=STANDIN_KEY,
    )
    assert run.code == 1, run.out
    assert "FAIL" in run.out
    # The wrong event JSON: the documented StreamEvent has no `message`.
    assert "[documented] POST /channelsApi/{channelId}/stream -> 200" in run.out
    assert "`#/components/schemas/StreamEvent/properties/message` (documented)" in run.report
    # The missing field in invoke: the inferred InvokeResponse has no `threadId`.
    assert "`#/components/schemas/InvokeResponse/properties/threadId` (inferred)" in run.report
    # The wrong status for a bad key: 400, where our inferred contract says 401.
    assert "`#/components/responses/Unauthorized` (inferred)" in run.report
    assert "Expected 401 or 403, got `400 Bad Request`" in run.report
    assert "## Touching documented parts: the API broke its docs" in run.report
    assert "## Touching inferred parts: our guess was wrong, the contract must change" in run.report
    failures = run.junit.findall("testsuite/testcase/failure")
    assert {f.get("type") for f in failures} >= {"documented", "inferred"}
    messages = [f.get("message", "") for f in failures]
    assert any(m.startswith("[documented] SSE event payload violates") for m in messages)
    assert STANDIN_KEY not in run.everything()


def test_an_endless_stream_is_cut_by_the_limits(tmp_path: Path) -> None:
    with serve(endless_app) as base:
        run = contract(
            tmp_path,
            "--url",
            base,
            "--channel",
            STANDIN_CHANNEL,
            "--operation",
            "streamMessage",
            "--phase",
            "examples",
            "--max-events",
            "25",
            "--stream-timeout",
            "2",
            *QUICK,
            key=STANDIN_KEY,
            timeout=60,
        )
    assert run.seconds < 30
    # A stream past its bound is a finding of the stream check; what was read was checked.
    assert run.code == 1, run.out
    assert "SSE stream exceeded its events bound" in run.out
    assert "it had sent 25 events" in run.report
    assert "a stream was cut short by the limits (max events 25" in run.report


def test_a_real_target_needs_a_channel_and_a_key(tmp_path: Path) -> None:
    args = ["contract", "--url", "http://127.0.0.1:9", "--channel", "c"]
    result = CliRunner().invoke(
        cli_app,
        [*args, "--report-dir", str(tmp_path)],
        env={"VIVI_API_KEY": None, "VIVI_CHANNEL_ID": None},
    )
    assert result.exit_code == 2
    assert "VIVI_API_KEY" in result.output
    unknown = CliRunner().invoke(
        cli_app, ["contract", "--operation", "nope", "--report-dir", str(tmp_path)]
    )
    assert unknown.exit_code == 2
    assert "unknown operation id 'nope'" in unknown.output


def test_a_real_service_gets_a_rate_limit_and_small_uploads_unless_told() -> None:
    remote = ContractArgs(url="https://vivi.test", channel="c", api_key="s3cr3t-k")
    options = run_options(remote)
    assert (options.rate_limit, options.max_upload_bytes) == ("5/s", 4096)
    assert described(options)["rate limit"] == "5/s"
    told = ContractArgs(
        url="https://vivi.test", rate_limit="none", max_upload_bytes=10, phase=["examples"]
    )
    options = run_options(told)
    assert (options.rate_limit, options.max_upload_bytes, options.phases) == (
        None,
        10,
        ("examples",),
    )
    local = run_options(ContractArgs())
    assert (local.rate_limit, local.max_upload_bytes) == (None, None)
    assert (local.channel_id, local.api_key) == ("demo-channel", "demo-key")
    assert "s3cr3t-k" not in repr(remote)
    assert "s3cr3t-k" not in repr(run_options(remote))


@pytest.mark.parametrize("missing", ["schemathesis", "requests"])
def test_without_the_contract_extra_it_names_the_command_that_installs_it(
    missing: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A None entry in sys.modules is what the import system reads as "not installed".
    monkeypatch.setitem(sys.modules, missing, None)
    result = CliRunner().invoke(cli_app, ["contract", "--report-dir", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert f"needs {missing}" in result.output
    assert "pip install 'vivi-emulator[contract]'" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_a_wrong_rate_limit_is_a_plain_usage_error(tmp_path: Path) -> None:
    # schemathesis' own error came out as a traceback.
    result = CliRunner().invoke(
        cli_app, ["contract", "--rate-limit", "fast", "--report-dir", str(tmp_path / "r")]
    )
    assert result.exit_code == 2
    assert result.output == (
        "vivi-emulator contract: --rate-limit must be a count per second, minute, hour or day "
        "(5/s, 100/m, 1000/h, 10000/d) or none, not 'fast'\n"
    )
