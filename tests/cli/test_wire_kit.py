"""The conformance kit: its cases, the verdicts, the command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vivi_emulator.cli import app as cli_app
from vivi_emulator.cli.wire_kit import Case, cases, judge, printed_reply

from tests.server import free_port
from tests.wire.raw import request

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
REPLY = "Grüße aus Köln! Ça va? ✓ 日本語も大丈夫 🙂"


def test_the_kit_is_every_shipped_wire_scenario_numbered_with_its_expectation() -> None:
    kit = cases()
    assert [c.number for c in kit] == list(range(1, 21))
    assert kit[0].name == "wire-baseline"
    assert all(c.reply == REPLY for c in kit)
    expect = {c.name: c.expect for c in kit}
    assert expect["wire-crlf"] == "reply"
    assert expect["proxy-buffered"] == "reply"
    assert expect["chunked-cut"] == "reply-kept"
    assert expect["chunked-cut-mid-frame"] == "error"
    assert expect["idle-cut"] == expect["gateway-timeout"] == "error"


def test_only_keeps_the_numbering_and_refuses_unknown_names() -> None:
    assert [(c.number, c.name) for c in cases(["idle-cut", "wire-bom"])] == [
        (4, "wire-bom"),
        (17, "idle-cut"),
    ]
    with pytest.raises(ValueError, match="not in the kit: nope"):
        cases(["nope"])


def case(expect: str) -> Case:
    return Case(1, "x", "", expect, REPLY)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expect", "code", "stdout", "ok", "why"),
    [
        ("reply", 0, REPLY + "\n", True, "exit 0, whole reply"),
        ("reply", 0, REPLY[:-2] + "\n", False, "wrong or missing reply"),
        ("reply", 1, REPLY, False, "exit 1 after the whole reply"),
        ("reply", None, REPLY, False, "hung"),
        ("reply-kept", 1, REPLY, True, "exit 1, whole reply"),
        ("reply-kept", 0, "Grüße", False, "wrong or missing reply"),
        ("error", 1, "", True, "exit 1"),
        ("error", 0, "<html>524</html>", False, "presented as a success"),
    ],
)
def test_judge(expect: str, code: int | None, stdout: str, ok: bool, why: str) -> None:
    verdict = judge(case(expect), code, stdout)
    assert verdict.ok is ok
    assert why in verdict.why


def test_a_client_printing_data_lines_is_read_by_its_chunks() -> None:
    stdout = (
        'data: {"message": "", "event": "on_chat_model_start"}\n'
        'data: {"message": "Gr\\u00fc\\u00dfe ", "event": "on_chat_model_stream"}\n'
        'data: {"message": "aus", "event": "on_chat_model_stream"}\n'
        "data: {not json\n"
    )
    assert printed_reply(stdout) == "Grüße aus"
    assert printed_reply("just text\n") == "just text\n"


def test_list_prints_the_kit_and_what_a_correct_client_does() -> None:
    result = CliRunner().invoke(cli_app, ["wire-test", "--list"])
    assert result.exit_code == 0
    assert result.output.startswith(" 1. wire-baseline: The docs' framing")
    assert "18. gateway-timeout: A CDN (Cloudflare) answers 524" in result.output
    assert "a correct client reports a failure (exits non-zero)" in result.output


def test_an_unknown_scenario_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli_app, ["wire-test", "--list", "--only", "nope"])
    assert result.exit_code == 2
    assert "not in the kit: nope" in result.output


def _wire_test(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vivi_emulator", "wire-test", "--time-scale", "0.01", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )


def test_a_client_run_passes_reports_and_exits_0(tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    client = f"{sys.executable} {EXAMPLES / 'httpx_stream.py'}"
    done = _wire_test(
        "--client", client, "--only", "wire-crlf", "--only", "gateway-timeout",
        "--report", str(report),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 2. PASS  wire-crlf: exit 0, whole reply" in done.stdout
    assert "18. PASS  gateway-timeout: exit 1" in done.stdout
    assert "2 of 2 passed" in done.stdout
    text = report.read_text()
    assert "| 2 | `wire-crlf` | prints the whole reply and exits 0 | pass: exit 0" in text


def test_a_failing_client_fails_the_run() -> None:
    done = _wire_test("--client", f"node {EXAMPLES / 'node_stream.mjs'}", "--only", "wire-cr")
    assert done.returncode == 1
    assert " 3. FAIL  wire-cr: exit 0, wrong or missing reply" in done.stdout


ONLY = ("--only", "wire-crlf", "--only", "wire-bom")


def test_interactive_mode_forces_each_scenario_until_enter() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "vivi_emulator", "wire-test", "--port", str(port), *ONLY],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert process.stdin is not None
    assert process.stdout is not None
    watchdog = threading.Timer(90, process.kill)  # a missing line fails the test, never hangs it
    watchdog.start()
    try:
        seen: list[str] = []

        def until(marker: str) -> None:
            assert process.stdout is not None
            while marker not in (line := process.stdout.readline()):
                assert line, "".join(seen)
                seen.append(line)

        until("[1/2] 2. wire-crlf is on")
        assert request(base).data.endswith(b"\r\n\r\n")  # no header: the forced scenario
        process.stdin.write("\n")
        process.stdin.flush()
        until("[2/2] 4. wire-bom is on")
        assert request(base).data.startswith(b"\xef\xbb\xbf")
        process.stdin.write("\n")
        process.stdin.flush()
        until("done")
        assert process.wait(timeout=30) == 0
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdin.close()
        process.stdout.close()


def test_an_emulator_that_cannot_start_is_a_clear_usage_error() -> None:
    with socket.socket() as taken:  # its port is in use: serve refuses to start
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = CliRunner().invoke(cli_app, ["wire-test", "--port", port, "--client", "true"])
    assert result.exit_code == 2
    assert "the emulator did not start" in result.output
    assert "already in use" in result.output
