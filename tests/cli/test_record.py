"""`vivi-emulator record`: light to start, and a recording replays what it recorded.

Record through `vivi-emulator record` from a live emulator, then replay with `serve --fixtures`.

The replay must send the same bytes as the upstream did, at the recorded times: every frame
within TOLERANCE of its recorded time, both counted from the first frame (so the time to the
first byte, which a loaded machine makes noisy, does not count twice) and cumulative (so errors
cannot add up unseen); the whole span within 20 %; twice as fast with ``--time-scale 0.5``. The
recording must not contain the key.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from vivi_emulator.scenarios.context import RequestContext
from vivi_emulator.scenarios.engine import BuildOptions, build_script
from vivi_emulator.scenarios.latency import read_profile
from vivi_emulator.scenarios.loader import parse_file
from vivi_emulator.scenarios.model import Scenario
from vivi_emulator.sse import FrameSplitter

from tests.server import CLI, Running, free_port, run_cli, start

CHANNEL = "rec-channel"
KEY = "rec-key-b71f0e9d44"
TOLERANCE = 0.15  # seconds, per frame, counted from the first frame
FIXTURE = """\
version: 1
scenarios:
  - name: paced
    match: {message: {contains: paced}}
    text: "one two three four five six"
    timing: {first_chunk_ms: 250, chunk_ms: 90}
"""
MESSAGE = "a paced reply, please"
# start, then a chunk after 250 ms, five more 90 ms apart, the end 90 ms later
SCRIPTED = [0.0, 0.25, 0.34, 0.43, 0.52, 0.61, 0.70, 0.79]


def timed_stream(base: str, channel: str, key: str) -> tuple[bytes, list[float]]:
    """The stream's bytes, and when each frame's last byte came, in seconds from the request."""
    body = {"message": MESSAGE, "threadId": str(uuid.uuid4())}
    headers = {"vivi-api-key": key}
    started = time.monotonic()
    received = b""
    times: list[float] = []
    splitter = FrameSplitter()
    with httpx.stream(
        "POST", f"{base}/channelsApi/{channel}/stream", json=body, headers=headers, timeout=20
    ) as response:
        assert response.status_code == 200
        for part in response.iter_raw():
            received += part
            times += [time.monotonic() - started] * len(splitter.feed(part))
    assert splitter.finish() == b""
    return received, times


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    fixtures = tmp_path_factory.mktemp("upstream-fixtures")
    (fixtures / "paced.yaml").write_text(FIXTURE)
    emulator = start(
        "--no-access-log",
        "--fixtures",
        str(fixtures),
        env={"VIVI_EMULATOR_CHANNELS": f"{CHANNEL}={KEY}"},
    )
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def recorded(
    upstream: Running, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, bytes, list[float]]:
    """A recording of one stream and one invoke, through the proxy; its folder, bytes, times."""
    out = tmp_path_factory.mktemp("recordings")
    port = free_port()
    proxy = subprocess.Popen(
        [CLI, "record", "--upstream", upstream.base_url, "--port", str(port), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd="/",
        env=os.environ.copy(),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:  # the proxy forwards everything: the upstream's health says it is up
            try:
                if httpx.get(f"{base}/_emulator/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the proxy did not start"
                assert proxy.poll() is None, proxy.communicate()[0]
                time.sleep(0.05)
        direct, _ = timed_stream(upstream.base_url, CHANNEL, KEY)
        through, times = timed_stream(base, CHANNEL, KEY)
        assert through == direct
        # Streamed through as it came, not buffered: the frames came over the scripted time.
        assert times[-1] - times[1] > 0.4
        assert times[1] < times[-1] - 0.4
        invoked = httpx.post(
            f"{base}/channelsApi/{CHANNEL}/invoke",
            json={"message": "hello", "threadId": str(uuid.uuid4())},
            headers={"vivi-api-key": KEY},
        )
        assert invoked.status_code == 200
    finally:
        proxy.send_signal(signal.SIGTERM)
        log, _ = proxy.communicate(timeout=15)
    assert KEY not in log
    return out, through, times


def test_the_recording_holds_the_stream_and_no_key(
    recorded: tuple[Path, bytes, list[float]],
) -> None:
    out, _, _ = recorded
    [path] = list(out.glob("recording-*.yaml"))
    text = path.read_text()
    assert KEY not in text
    assert "vivi-api-key" not in text
    scenarios, problems = parse_file(path)
    assert problems == []
    stream, invoke = scenarios
    assert stream.match is not None
    assert stream.match.message == MESSAGE
    assert stream.match.turn == 1
    assert stream.frames is not None
    assert len(stream.frames) == len(SCRIPTED)
    assert stream.recorded is not None
    assert stream.recorded.operation == "POST /channelsApi/{channelId}/stream"
    assert invoke.recorded is not None
    assert invoke.recorded.body is not None
    assert '"threadId"' in invoke.recorded.body


def recorded_times(out: Path) -> list[float]:
    """When each frame of the recorded stream is due, in seconds after the request."""
    [path] = list(out.glob("recording-*.yaml"))
    scenarios, _ = parse_file(path)
    assert scenarios[0].frames is not None
    due, times = 0.0, []
    for frame in scenarios[0].frames:
        due += frame.after_ms / 1000.0
        times.append(due)
    return times


def test_the_recorder_measured_the_pace(recorded: tuple[Path, bytes, list[float]]) -> None:
    out, _, _ = recorded
    times = recorded_times(out)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    scripted = [b - a for a, b in itertools.pairwise(SCRIPTED)]
    for gap, want in zip(gaps, scripted, strict=True):
        assert abs(gap - want) <= TOLERANCE, (gaps, scripted)
    assert times[-1] - times[0] == pytest.approx(SCRIPTED[-1], rel=0.2)


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_a_replay_sends_the_same_bytes_at_the_recorded_times(
    recorded: tuple[Path, bytes, list[float]], scale: float
) -> None:
    out, recorded_bytes, _ = recorded
    due = [t * scale for t in recorded_times(out)]
    replay = start("--no-access-log", "--fixtures", str(out), "--time-scale", str(scale))
    try:
        timed_stream(replay.base_url, "demo-channel", "demo-key")  # warm up
        replayed, times = timed_stream(replay.base_url, "demo-channel", "demo-key")
        started = time.monotonic()
        invoked = httpx.post(
            f"{replay.base_url}/channelsApi/demo-channel/invoke",
            json={"message": MESSAGE, "threadId": str(uuid.uuid4())},
            headers={"vivi-api-key": "demo-key"},
            timeout=20,
        )
        invoke_seconds = time.monotonic() - started
    finally:
        replay.stop()
    assert replayed == recorded_bytes
    assert len(times) == len(due)
    for got, want in zip(times, due, strict=True):
        assert abs((got - times[0]) - (want - due[0])) <= TOLERANCE, (times, due)
    assert times[-1] - times[0] == pytest.approx(due[-1] - due[0], rel=0.2)
    assert invoked.json()["message"] == "one two three four five six"
    assert invoke_seconds == pytest.approx(due[-1], abs=TOLERANCE + 0.1)


def test_the_record_command_never_imports_schemathesis() -> None:
    """`record` runs where schemathesis is not wanted: importing the CLI and the proxy skips it."""
    script = (
        "import sys\n"
        "import vivi_emulator.cli, vivi_emulator.cli.record, vivi_emulator.record.proxy\n"
        "from vivi_emulator.record.proxy import RecordingProxy\n"
        "import tempfile, pathlib\n"
        "RecordingProxy('http://127.0.0.1:9', pathlib.Path(tempfile.mkdtemp()))\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'schemathesis')\n"
        "assert not loaded, loaded\n"
        "assert 'vivi_emulator.contract.run' not in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_fit_latency_reproduces_the_recorded_time_to_first_token(
    recorded: tuple[Path, bytes, list[float]], tmp_path: Path
) -> None:
    out, _, _ = recorded
    recorded_ttft = recorded_times(out)[1] * 1000  # the first chunk, after the start event
    profile_file = tmp_path / "agent.yaml"
    fitted = run_cli("fixtures", "fit-latency", str(out), "--output", str(profile_file))
    assert fitted.returncode == 0, fitted.stderr
    assert f"written to {profile_file}" in fitted.stderr
    profile = read_profile(profile_file)
    assert profile.name == "fitted to 1 recorded streams"
    # What the emulator then plays: its scripts' time to first token, over many threads.
    scripts = [
        build_script(
            Scenario.model_validate({"name": "s", "text": "one two three"}),
            RequestContext("c", "m", str(uuid.UUID(int=i)), None, (), 1, {}),
            BuildOptions(latency=profile),
        )
        for i in range(50)
    ]
    ttfts = [sum(e.delay for e in s.events[:2]) * 1000 for s in scripts]
    assert sorted(ttfts)[25] == pytest.approx(recorded_ttft, rel=0.2)
    # serve takes the file as it is written.
    served = start("--no-access-log", latency=str(profile_file))
    try:
        state = httpx.get(f"{served.base_url}/_emulator/latency").json()
    finally:
        served.stop()
    assert state["profile"]["name"] == "fitted to 1 recorded streams"
