"""The JavaScript example (docs/examples/node, docs/testing-js.md) passes under `node --test`:
pointed at a running emulator, and starting the CLI itself."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from vivi_emulator.pytest_plugin import EmulatorSession

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "node"
NODE = shutil.which("node")


def node_test(env: dict[str, str]) -> str:
    assert NODE is not None, "node is missing: scripts/setup-system installs Debian's nodejs"
    done = subprocess.run(
        [NODE, "--test", "--test-reporter=tap", str(EXAMPLE / "vivi_client.test.mjs")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def counts(output: str) -> tuple[int, int]:
    passed = re.search(r"^# pass (\d+)$", output, re.MULTILINE)
    failed = re.search(r"^# fail (\d+)$", output, re.MULTILINE)
    assert passed, output
    assert failed, output
    return int(passed.group(1)), int(failed.group(1))


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIVI_EMULATOR_")}
    # The CLI of this environment, as `vivi-emulator` on the PATH of an activated virtualenv.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_against_a_running_emulator(vivi_emulator_session: EmulatorSession) -> None:
    env = {**base_env(), "VIVI_EMULATOR_URL": vivi_emulator_session.base_url}
    assert counts(node_test(env)) == (5, 0)


def test_starting_the_cli_itself() -> None:
    assert counts(node_test(base_env())) == (5, 0)
