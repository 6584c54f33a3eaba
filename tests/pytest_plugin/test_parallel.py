"""Tests in parallel (pytest-xdist workers) against one emulator never see each other: each test
owns a channel, and with it its queue, forced scenario, threads and journal."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.pytest_plugin.test_fixture import QUIET
from tests.server import Running

pytest_plugins = ["pytester"]

# Run with `-n 2 --dist each`: both workers run every test at the same time, and the rendezvous
# makes sure their scripting and their requests overlap. Without per-channel isolation the
# last-forced scenario would win for both workers, and each journal would show both.
PARALLEL = """
import os
import time
import uuid
from pathlib import Path

import httpx
import pytest
import requests

RENDEZVOUS = Path({rendezvous!r})
WORKER = os.environ["PYTEST_XDIST_WORKER"]
FORCED = {{"gw0": "greeting", "gw1": "tool-call"}}


def arrive(step):
    # Wait until both workers have reached this step (they are separate processes).
    (RENDEZVOUS / f"{{step}}.{{WORKER}}").touch()
    deadline = time.monotonic() + 60
    while len(list(RENDEZVOUS.glob(f"{{step}}.*"))) < 2:
        assert time.monotonic() < deadline, f"the other worker never reached {{step}}"
        time.sleep(0.01)


def invoke(vivi_emulator, message):
    reply = requests.post(
        vivi_emulator.url("invoke"),
        headers={{"vivi-api-key": vivi_emulator.api_key}},
        json={{"message": message, "threadId": str(uuid.uuid4())}},
        timeout=10,
    )
    reply.raise_for_status()
    return reply.json()["message"]


def test_scripting_overlaps_and_stays_apart(vivi_emulator):
    vivi_emulator.queue_reply(f"queued by {{WORKER}}")
    vivi_emulator.force(FORCED[WORKER])
    arrive("scripted")
    assert invoke(vivi_emulator, "first") == f"queued by {{WORKER}}"
    invoke(vivi_emulator, "hello")
    arrive("called")
    scenarios = [e["scenario"] for e in vivi_emulator.journal()]
    assert scenarios[1] == FORCED[WORKER]
    assert len(scenarios) == 2
    vivi_emulator.assert_called("invoke", times=1, message="hello")


@pytest.mark.parametrize("n", range(4))
def test_each_gets_its_own_reply(vivi_emulator, n):
    vivi_emulator.queue_reply(f"reply {{n}} for {{WORKER}}")
    assert invoke(vivi_emulator, f"question {{n}}") == f"reply {{n}} for {{WORKER}}"
    vivi_emulator.assert_called(times=1, message=f"question {{n}}")
"""


@pytest.mark.parametrize("mode", ["own", "shared"])
def test_xdist_workers_each_get_their_own(
    pytester: pytest.Pytester, tmp_path: Path, mode: str, shared_emulator: Running
) -> None:
    rendezvous = tmp_path / "rendezvous"
    rendezvous.mkdir()
    pytester.makepyfile(test_parallel=PARALLEL.format(rendezvous=str(rendezvous)))
    args = [*QUIET, "-n", "2", "--dist", "each"]
    if mode == "shared":
        args += ["--vivi-emulator-url", shared_emulator.base_url]
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=10)  # 5 tests, each on both workers
    assert sorted(p.name for p in rendezvous.iterdir()) == [
        "called.gw0",
        "called.gw1",
        "scripted.gw0",
        "scripted.gw1",
    ]


def test_a_shared_emulator_is_left_as_it_was(
    pytester: pytest.Pytester, shared_emulator: Running
) -> None:
    control = f"{shared_emulator.base_url}/_emulator"
    before = httpx.get(f"{control}/channels").json()["channels"]
    pytester.makepyfile(
        """
        import uuid

        import requests

        def test_uses_it(vivi_emulator):
            vivi_emulator.queue_reply("left behind")
            vivi_emulator.force("slow")
            requests.post(
                vivi_emulator.url("files"),
                headers={"vivi-api-key": vivi_emulator.api_key},
                files={"files": ("a.txt", b"data")},
                timeout=10,
            ).raise_for_status()
        """
    )
    pytester.runpytest_subprocess(
        *QUIET, "--vivi-emulator-url", shared_emulator.base_url
    ).assert_outcomes(passed=1)
    assert httpx.get(f"{control}/channels").json()["channels"] == before
    usage = httpx.get(f"{control}/usage").json()["usage"]
    assert usage["queued"] == 0
    assert usage["files"] == 0
