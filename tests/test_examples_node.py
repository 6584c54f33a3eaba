"""The JavaScript example (docs/examples/node, docs/testing-js.md) passes under `node --test`,
run as the doc says, from the state the README's two commands leave: a clone with its `.venv`,
nothing activated, no variable set. Pointed at a running emulator, and starting the CLI itself
(found in the clone's `.venv`)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from vivi_emulator.pytest_plugin import EmulatorSession

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "node"
NODE = shutil.which("node")
VENV_CLI = ROOT / ".venv" / "bin" / "vivi-emulator"


def node_test(env: dict[str, str], *files: str) -> str:
    assert NODE is not None, "node is missing: scripts/setup-system installs Debian's nodejs"
    done = subprocess.run(
        # The doc's command: node --test docs/examples/node/
        [NODE, "--test", "--test-reporter=tap", *(files or ["docs/examples/node/"])],
        env=env,
        cwd=ROOT,
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


def fresh_shell() -> dict[str, str]:
    """A shell after `scripts/serve` or `scripts/test`: no VIVI_EMULATOR_* variable, no
    virtualenv activated (no python bin folder of a venv on the PATH)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("VIVI_EMULATOR_") and k != "VIRTUAL_ENV"
    }
    folders = env.get("PATH", "").split(os.pathsep)
    env["PATH"] = os.pathsep.join(
        f for f in folders if f and not (Path(f) / "vivi-emulator").exists()
    )
    return env


def test_against_a_running_emulator(vivi_emulator_session: EmulatorSession) -> None:
    env = {**fresh_shell(), "VIVI_EMULATOR_URL": vivi_emulator_session.base_url}
    assert counts(node_test(env)) == (5, 0)


def test_starting_the_cli_itself_from_the_clones_venv() -> None:
    assert VENV_CLI.exists(), "no .venv in the clone: scripts/setup makes it"
    env = fresh_shell()
    assert shutil.which("vivi-emulator", path=env["PATH"]) is None
    assert counts(node_test(env)) == (5, 0)


def test_without_the_cli_anywhere_it_says_how_to_install_it(tmp_path: Path) -> None:
    # The same files copied out of the clone: no .venv above them, nothing on the PATH.
    copy = tmp_path / "node"
    shutil.copytree(EXAMPLE, copy)
    assert NODE is not None
    done = subprocess.run(
        [NODE, "--test", "--test-reporter=tap", str(copy / "vivi_client.test.mjs")],
        env=fresh_shell(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "vivi-emulator not found on the PATH nor in a .venv from here up" in done.stdout
    assert "set VIVI_EMULATOR_CLI" in done.stdout
