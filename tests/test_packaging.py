"""A built wheel carries everything the emulator reads at run time, and serves from anywhere."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.server import start

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("vivi_emulator-*.whl")
    return built


def test_wheel_ships_the_contract_and_fixtures(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "vivi_emulator/_bundled/openapi/vivi-channels-api.yaml" in names
    assert "vivi_emulator/_bundled/fixtures/defaults.yaml" in names
    assert "vivi_emulator/_bundled/fixtures/wire.yaml" in names
    assert "vivi_emulator/_bundled/fixtures/scenarios.schema.json" in names
    assert "vivi_emulator/playground/static/playground.js" in names
    assert not any(n.startswith("tests/") for n in names)


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed into a folder of its own (its dependencies are this environment's)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--quiet",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return target


def test_installed_wheel_serves_from_another_directory(installed: Path, tmp_path: Path) -> None:
    target = installed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [sys.executable, "-c", "import vivi_emulator.resources as r; print(r.contract_path())"],
        env=env,
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip().startswith(str(target))
    emulator = start(
        env={"PYTHONPATH": str(target)},
        command=[sys.executable, "-m", "vivi_emulator"],
        cwd=str(elsewhere),
    )
    try:
        contract = httpx.get(f"{emulator.base_url}/openapi.json", timeout=5)
        assert contract.status_code == 200
        assert contract.json()["info"]["title"].startswith("VIVI")
        reply = httpx.post(
            f"{emulator.base_url}/channelsApi/demo-channel/invoke",
            headers={"vivi-api-key": "demo-key"},
            json={"message": "hello", "threadId": "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"},
        )
        assert reply.status_code == 200
    finally:
        emulator.stop()


def test_the_wheel_carries_the_one_version(wheel: Path) -> None:
    # Written once, in vivi_emulator/__init__.py; the build reads it from there.
    import tomllib

    from vivi_emulator import __version__

    assert wheel.name.startswith(f"vivi_emulator-{__version__}-")
    (metadata,) = [n for n in zipfile.ZipFile(wheel).namelist() if n.endswith("/METADATA")]
    lines = zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
    assert f"Version: {__version__}" in lines
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project
    assert project["dynamic"] == ["version"]


def test_an_integrators_tests_pass_with_the_installed_plugin(
    installed: Path, tmp_path: Path
) -> None:
    # The README's shortest tests (a requests client, base_url, channel and key, no marker;
    # and force("slow") timing the first token), in a project of their own, with the plugin as
    # `pip install` puts it: found through its pytest11 entry point.
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "docs" / "examples" / "testing" / "test_quickstart.py", project)
    (project / "test_installed.py").write_text(
        "from vivi_emulator import pytest_plugin\n\n\n"
        "def test_the_plugin_is_the_installed_one(vivi_emulator):\n"
        f"    assert pytest_plugin.__file__.startswith({str(installed)!r})\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        env={**os.environ, "PYTHONPATH": str(installed)},
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_the_base_install_leaves_the_contract_runner_to_its_extra(wheel: Path) -> None:
    # schemathesis and hypothesis register pytest plugins: in the base install they would load
    # into every pytest run of a project that installs the emulator.
    archive = zipfile.ZipFile(wheel)
    (metadata,) = [n for n in archive.namelist() if n.endswith("/METADATA")]
    requires = [
        line.removeprefix("Requires-Dist: ")
        for line in archive.read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist: ")
    ]
    base = [r for r in requires if "extra ==" not in r]
    assert base
    assert not [r for r in base if r.startswith(("schemathesis", "hypothesis"))]
    assert any(r.startswith("schemathesis") and "extra == 'contract'" in r for r in requires)
    assert "Provides-Extra: contract" in archive.read(metadata).decode().splitlines()
