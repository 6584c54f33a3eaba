"""scripts/setup is quiet when nothing needs doing: a .venv whose install matches the project's
pyproject.toml and version is left alone, without a word."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_nothing_to_do_prints_nothing(tmp_path: Path) -> None:
    # A copy of the clone's set-up inputs, with a .venv already made for exactly them.
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup", tmp_path / "scripts" / "setup")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    init = tmp_path / "emulator" / "vivi_emulator" / "__init__.py"
    init.parent.mkdir(parents=True)
    shutil.copy(ROOT / "emulator" / "vivi_emulator" / "__init__.py", init)
    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    # A stand-in that fails loudly if setup tried to install anything (never a real pip here).
    fake = venv_bin / "python"
    fake.write_text('#!/bin/sh\necho "setup ran: python $*" >&2\nexit 1\n')
    fake.chmod(0o755)
    digest = hashlib.sha256((tmp_path / "pyproject.toml").read_bytes() + init.read_bytes())
    (tmp_path / ".venv" / ".vivi-setup-stamp").write_text(digest.hexdigest() + "\n")
    done = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "setup")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
