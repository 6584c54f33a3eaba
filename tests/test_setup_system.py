"""scripts/setup-system without root: it installs nothing, and names each missing Debian
package, why the tests need it, and the command to install them by hand."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "setup-system"


@pytest.fixture
def bin_dir() -> Iterator[Path]:
    """A folder the unprivileged user can read (pytest's tmp_path is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="setup-system-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_without_root_it_names_what_to_install_and_why(bin_dir: Path) -> None:
    # A PATH with the shell's few tools only: chromium, redis-server and node are not on it.
    for tool in ("bash", "id", "dirname", "env"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    command = [str(bin_dir / "bash"), str(SCRIPT)]
    if os.geteuid() == 0:  # as CI runs: drop to nobody, as a developer without root is
        setpriv = shutil.which("setpriv")
        assert setpriv is not None, "setpriv (util-linux) runs the script without root"
        command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    done = subprocess.run(
        command,
        env={"PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0] == (
        "setup-system: missing Debian packages, which need root to install; without them these "
        "tests fail:"
    )
    assert "setup-system:   chromium: the browser tests of the playground and API docs" in (
        done.stderr
    )
    assert "setup-system:   redis-server: the shared state store's tests" in done.stderr
    assert "setup-system:   nodejs: the Node example" in done.stderr
    assert lines[-1].startswith("setup-system: install them by hand: sudo apt-get install -y ")
    assert {"chromium", "redis-server", "nodejs"} <= set(lines[-1].split())
