"""The GitHub Action's script (scripts/action/emulator), run as the action's steps run it:
start (serve, wait, export to GITHUB_ENV and GITHUB_OUTPUT), a request, stop (journal saved)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.server import CLI, free_port
from tests.support import THREAD

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "action" / "emulator"
KEY = "action-key-8d1f"
FIXTURE = """\
scenarios:
  - name: from-the-action
    match: {message: {equals: ping}}
    text: pong from the action
"""


@dataclass
class Job:
    """A job's environment: the files GitHub gives a step, and the action's inputs."""

    env: dict[str, str]
    github_env: Path
    github_output: Path

    def step(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), command], env=self.env, capture_output=True, text=True, timeout=120
        )

    def exported(self, path: Path) -> dict[str, str]:
        lines = path.read_text().splitlines()
        return dict(line.split("=", 1) for line in lines)


@pytest.fixture
def job(tmp_path: Path) -> Job:
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    (fixtures / "action.yaml").write_text(FIXTURE)
    github_env, github_output = tmp_path / "github_env", tmp_path / "github_output"
    env = {
        **os.environ,
        "GITHUB_ENV": str(github_env),
        "GITHUB_OUTPUT": str(github_output),
        "RUNNER_TEMP": str(tmp_path / "runner"),
        "VIVI_EMULATOR_BIN": CLI,  # installed already: `install` is pip install of this repo
        "VIVI_ACTION_PORT": str(free_port()),
        "VIVI_ACTION_FIXTURES": str(fixtures),
        "VIVI_ACTION_CHANNEL_ID": "ci-channel",
        "VIVI_ACTION_API_KEY": KEY,
        "VIVI_ACTION_ARGS": "--latency none",
    }
    return Job(env, github_env, github_output)


def test_start_export_request_stop(job: Job) -> None:
    started = job.step("start")
    assert started.returncode == 0, started.stderr
    exported = job.exported(job.github_env)
    assert exported == {
        "VIVI_BASE_URL": f"http://127.0.0.1:{job.env['VIVI_ACTION_PORT']}",
        "VIVI_CHANNEL_ID": "ci-channel",
        "VIVI_API_KEY": KEY,
    }
    outputs = job.exported(job.github_output)
    pid = (Path(job.env["RUNNER_TEMP"]) / "vivi-emulator" / "pid").read_text().strip()
    # The key reached the emulator in its environment, not on its command line.
    assert KEY not in Path(f"/proc/{pid}/cmdline").read_text()
    try:
        base, channel = exported["VIVI_BASE_URL"], exported["VIVI_CHANNEL_ID"]
        reply = httpx.post(
            f"{base}/channelsApi/{channel}/invoke",
            headers={"vivi-api-key": exported["VIVI_API_KEY"]},
            json={"message": "ping", "threadId": THREAD},
        )
        assert reply.json()["message"] == "pong from the action"
    finally:
        stopped = job.step("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid)
    journal = json.loads(Path(outputs["journal"]).read_text())["entries"]
    assert [(e["channel"], e["scenario"]) for e in journal] == [("ci-channel", "from-the-action")]
    har = json.loads(Path(outputs["har"]).read_text())
    assert len(har["log"]["entries"]) == 1
    assert KEY not in Path(outputs["journal"]).read_text() + Path(outputs["har"]).read_text()
    assert "Traceback" not in Path(outputs["log"]).read_text()


def _state(pid: str) -> str:
    return Path(f"/proc/{pid}/status").read_text()


def test_a_channel_without_its_key_is_refused(job: Job) -> None:
    del job.env["VIVI_ACTION_API_KEY"]
    started = job.step("start")
    assert started.returncode == 1
    assert "give channel-id and api-key together" in started.stderr


def test_stop_before_start_fails(job: Job) -> None:
    stopped = job.step("stop")
    assert stopped.returncode == 1
    assert "not started" in stopped.stderr


def test_the_action_calls_the_script_for_each_step() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    runs = [s["run"] for s in action["runs"]["steps"] if "run" in s]
    assert runs == [
        f'"$GITHUB_ACTION_PATH/scripts/action/emulator" {command}'
        for command in ("install", "start", "stop")
    ]
    assert set(action["outputs"]) >= {"base-url", "channel-id", "api-key", "journal", "har"}
