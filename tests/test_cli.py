"""The CLI on a real socket: start-up banner, the docs' sample, a clean stop, both servers."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from vivi_emulator import sse
from vivi_emulator.cli import app as cli_app

from tests.server import SERVERS, Running, start

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
CLI = str(Path(sys.executable).parent / "vivi-emulator")


@pytest.fixture(params=SERVERS)
def running(request: pytest.FixtureRequest) -> Iterator[Running]:
    emulator = start("--server", request.param)
    yield emulator
    if emulator.process.poll() is None:
        emulator.stop()


def test_docs_requests_sample_prints_start_stream_and_end(running: Running) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "requests_sample.py")],
        env={**os.environ, "VIVI_BASE_URL": running.base_url},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0] == 'data: {"message": "", "event": "on_chat_model_start"}'
    assert lines[1] == 'data: {"message": "Hello", "event": "on_chat_model_stream"}'
    assert lines[2] == 'data: {"message": "!", "event": "on_chat_model_stream"}'
    assert lines[-1] == 'data: {"message": "", "event": "on_chat_model_end"}'
    assert all('"event": "on_chat_model_stream"' in line for line in lines[1:-1])


def _sample_lines(base_url: str) -> list[tuple[float, str]]:
    """The docs' sample's output lines, each with when it was printed (seconds from the start)."""
    started = time.monotonic()
    with subprocess.Popen(
        [sys.executable, "-u", str(EXAMPLES / "requests_sample.py")],
        env={**os.environ, "VIVI_BASE_URL": base_url},
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        lines = [(time.monotonic() - started, line.rstrip("\n")) for line in process.stdout]
        assert process.wait(timeout=30) == 0
    return lines


def test_serve_types_like_an_agent_by_default() -> None:
    emulator = start("--server", "granian", latency=None)  # serve's own default
    try:
        lines = _sample_lines(emulator.base_url)
    finally:
        _, out = emulator.stop()
    assert "latency   realistic: first token lognormal p50 700 ms" in out
    times = [t for t, _ in lines]
    assert lines[0][1].endswith('"event": "on_chat_model_start"}')
    assert lines[-1][1].endswith('"event": "on_chat_model_end"}')
    # The chunks came over visibly separate moments, not as one write.
    assert times[-1] - times[1] >= 0.3, times
    moments = sum(1 for a, b in itertools.pairwise(times[1:]) if b - a >= 0.005)
    assert moments >= 8, times


def _reads(base_url: str, headers: dict[str, str] | None = None) -> list[bytes]:
    body = {"message": "hello", "threadId": "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"}
    with httpx.stream(
        "POST",
        f"{base_url}/channelsApi/demo-channel/stream",
        headers={"vivi-api-key": "demo-key", **(headers or {})},
        json=body,
    ) as response:
        return [part for part in response.iter_raw() if part]


def test_latency_none_sends_the_reply_at_once(running: Running) -> None:
    reads = _reads(running.base_url)
    # No delay anywhere: the whole reply is one write, which the client reads in one go.
    assert len(reads) == 1, reads
    assert len(sse.split_frames(reads[0])) == 18


def test_time_scale_zero_removes_even_scripted_delays() -> None:
    emulator = start("--time-scale", "0", latency=None)  # realistic, scaled to nothing
    try:
        slow = _reads(emulator.base_url, {"x-vivi-scenario": "slow"})  # 1 s, then 50 ms gaps
    finally:
        emulator.stop()
    assert len(slow) == 1, slow


def test_curl_example(running: Running) -> None:
    result = subprocess.run(
        ["bash", str(EXAMPLES / "curl_stream.sh")],
        env={**os.environ, "VIVI_BASE_URL": running.base_url},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.startswith('data: {"message": "", "event": "on_chat_model_start"}\n\n')
    assert result.stdout.endswith('data: {"message": "", "event": "on_chat_model_end"}\n\n')


def test_banner_logs_and_clean_stop(running: Running) -> None:
    key = {"vivi-api-key": "demo-key"}
    body = {"message": "hi", "threadId": "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"}
    httpx.post(f"{running.base_url}/channelsApi/demo-channel/invoke", headers=key, json=body)
    httpx.post(
        f"{running.base_url}/channelsApi/demo-channel/invoke",
        headers={"vivi-api-key": "a-wrong-key-xyz"},
        json=body,
    )
    code, out = running.stop()
    assert code == 0, out
    assert "channel demo-channel  key demo-key  (embedded default)" in out
    assert "POST /channelsApi/demo-channel/invoke channel=demo-channel status=200" in out
    assert "status=401" in out
    assert "a-wrong-key-xyz" not in out
    assert "Traceback" not in out


def test_client_dropping_a_stream_leaves_the_server_healthy(running: Running) -> None:
    host, port = running.base_url.removeprefix("http://").split(":")
    body = b'{"message": "hello", "threadId": "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"}'
    for _ in range(5):
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(
                b"POST /channelsApi/demo-channel/stream HTTP/1.1\r\nHost: x\r\n"
                b"vivi-api-key: demo-key\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:10]
            )  # half a body, then hang up
    assert httpx.get(f"{running.base_url}/_emulator/health").status_code == 200
    code, out = running.stop()
    assert code == 0
    assert "Traceback" not in out


def test_configured_keys_are_never_printed() -> None:
    emulator = start(env={"VIVI_EMULATOR_CHANNELS": "team=t0p-s3cret"})
    try:
        ok = httpx.post(
            f"{emulator.base_url}/channelsApi/team/invoke",
            headers={"vivi-api-key": "t0p-s3cret"},
            json={"message": "hi", "threadId": "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"},
        )
        assert ok.status_code == 200
    finally:
        _, out = emulator.stop()
    assert "channel team  key (configured, not shown)" in out
    assert "t0p-s3cret" not in out


def test_bad_config_exits_2_with_a_reason(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("port: nope\n")
    result = CliRunner().invoke(cli_app, ["serve", "--config", str(config)])
    assert result.exit_code == 2
    assert "port" in result.output


def test_version() -> None:
    result = CliRunner().invoke(cli_app, ["version"])
    assert result.exit_code == 0
    assert result.output.strip()
