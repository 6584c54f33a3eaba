"""What installing the emulator costs a user's own pytest (issue 23), and what the install weighs.

The plugin is registered through ``pytest11``, so every pytest run of an environment that has
the package loads it. Three fresh virtualenvs, the same pytest in each:

- ``clean``: pytest alone;
- ``anyio``: pytest and anyio (Starlette needs anyio, whose own pytest plugin loads too: its
  share is not the emulator's to cut);
- ``emulator``: pytest and the emulator's base install (``pip install <repo>``, no extra).

Each round times a run of one empty test in each, in turn (median of a few runs per round;
bytecode written, as in a user's shell);
the figure is the emulator's venv minus the clean one, paired per round. ``pytest --version``
returns before plugins load, so the run is a real one. The base install's size is measured in
the ``emulator`` venv: the distributions vivi-emulator requires, followed down, and the bytes of
the files they installed.
"""

# ruff: noqa: S603  (fixed argv built by the harness, no shell)

from __future__ import annotations

import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import REPO, WORK, log
from .results import Results
from .rows import ok

VENVS = ("clean", "anyio", "emulator")
EMPTY_TEST = "def test_empty():\n    pass\n"
# As a user's shell runs pytest: bytecode written and reused (a CI image may forbid it with
# PYTHONDONTWRITEBYTECODE, which makes every import compile its source, every time), and none
# of the harness's own PYTHONPATH.
USER_ENV = {
    k: v for k, v in os.environ.items() if k not in {"PYTHONDONTWRITEBYTECODE", "PYTHONPATH"}
}
# Run in the emulator's venv: vivi-emulator's base requirements, followed down (markers
# evaluated, no extras), and what their files weigh.
_CLOSURE = """
import json, sys
from importlib import metadata
from packaging.requirements import Requirement

def name(text):
    return text.lower().replace("_", "-").replace(".", "-")

seen, todo = set(), ["vivi-emulator"]
while todo:
    current = todo.pop()
    if current in seen:
        continue
    seen.add(current)
    for text in metadata.requires(current) or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            todo.append(name(requirement.name))
size = sum(f.size or 0 for d in seen for f in metadata.files(d) or ())
json.dump({"packages": len(seen), "bytes": size, "names": sorted(seen)}, sys.stdout)
"""


def _pytest_version() -> str:
    from importlib.metadata import version

    return version("pytest")


def _stamp() -> str:
    """Redo the venvs when what the emulator installs, or the pytest used, changes."""
    digest = hashlib.sha256()
    for part in ("pyproject.toml", "emulator/vivi_emulator/__init__.py"):
        digest.update((REPO / part).read_bytes())
    digest.update(_pytest_version().encode())
    return digest.hexdigest()


def _make_venv(folder: Path, packages: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
    done = subprocess.run(
        [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", *packages],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(packages)} failed: {done.stderr[-600:]}")


def prepare(root: Path) -> dict[str, Path]:
    """The three venvs, made once per stamp."""
    pytest = f"pytest=={_pytest_version()}"
    wanted = {"clean": [pytest], "anyio": [pytest, "anyio"], "emulator": [pytest, str(REPO)]}
    stamp = _stamp()
    pythons = {}
    for name in VENVS:
        folder = root / name
        marker = folder / ".plugin-cost-stamp"
        if not marker.exists() or marker.read_text() != stamp:
            log(f"  plugin-cost: making the {name} venv (pip install {' '.join(wanted[name])})")
            _make_venv(folder, wanted[name])
            marker.write_text(stamp)
        pythons[name] = folder / "bin" / "python"
    return pythons


def time_run(python: Path, project: Path) -> tuple[float, float]:
    """Seconds of one `pytest` run of the empty test, from start to exit: wall clock, and CPU
    (user + system; on a shared machine the wall clock measures the machine's load too)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_empty.py"],
        cwd=project,
        env=USER_ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"pytest failed in {python.parent.parent.name}: {done.stdout[-400:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def base_install(python: Path) -> dict[str, Any]:
    done = subprocess.run(
        [str(python), "-c", _CLOSURE], capture_output=True, text=True, timeout=120, check=True
    )
    measured: dict[str, Any] = json.loads(done.stdout)
    return measured


def plugin_cost_phase(res: Results) -> None:
    root = WORK / "plugin-cost"
    try:
        pythons = prepare(root)
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        res.failures.append(f"plugin-cost: {exc}")
        log(f"  plugin-cost ERROR {exc}")
        return
    # A user's project: outside this repository, whose pytest settings would apply otherwise.
    with tempfile.TemporaryDirectory(prefix="plugin-cost-") as folder:
        project = Path(folder)
        (project / "test_empty.py").write_text(EMPTY_TEST)
        try:
            _rounds(res, pythons, project)
        except (RuntimeError, subprocess.SubprocessError) as exc:
            res.failures.append(f"plugin-cost: {exc}")
            log(f"  plugin-cost ERROR {exc}")


def _rounds(res: Results, pythons: dict[str, Path], project: Path) -> None:
    install = base_install(pythons["emulator"])
    for name in VENVS:  # a first, unmeasured run of each writes its bytecode
        time_run(pythons[name], project)
    for rnd in range(1, res.args.rounds + 1):
        for name in VENVS:
            runs = [time_run(pythons[name], project) for _ in range(res.args.plugin_samples)]
            value = {
                "round": rnd,
                "seconds": statistics.median(wall for wall, _ in runs),
                "cpu_seconds": statistics.median(cpu for _, cpu in runs),
            }
            if name == "emulator":
                value |= {"packages": install["packages"], "bytes": install["bytes"]}
            res.add("plugin-cost", name, value)
        log(
            "  round {} plugin-cost: one empty test {}".format(
                rnd,
                ", ".join(
                    f"{n} {res.runs['plugin-cost'][n][-1]['seconds'] * 1000:.0f} ms" for n in VENVS
                ),
            )
        )


def paired_difference_ms(
    res: Results, a: str, b: str, key: str = "seconds"
) -> tuple[float, list[float]]:
    """Median over rounds of (a - b) in milliseconds, each round's a and b run in turn."""
    xa = [r[key] for r in res.runs.get("plugin-cost", {}).get(a, [])]
    xb = [r[key] for r in res.runs.get("plugin-cost", {}).get(b, [])]
    diffs = [(x - y) * 1000 for x, y in zip(xa, xb, strict=False)]
    return (statistics.median(diffs) if diffs else float("nan")), diffs


GOAL_MS = 150.0  # issue 23: what installing the emulator may add to a user's pytest run


def plugin_cost_rows(res: Results) -> list[list[str]]:
    runs = res.runs.get("plugin-cost", {})
    if not all(name in runs for name in VENVS):
        return []

    def ms(name: str, key: str) -> str:
        return f"{statistics.median(r[key] for r in runs[name]) * 1000:.0f} ms"

    def difference(a: str, b: str, key: str) -> str:
        value, rounds = paired_difference_ms(res, a, b, key)
        return (
            f"{value:+.0f} ms ({ms(a, key)} vs {ms(b, key)}; rounds "
            + ", ".join(f"{d:+.0f}" for d in rounds)
            + ")"
        )

    wall, _ = paired_difference_ms(res, "emulator", "clean")
    cpu, _ = paired_difference_ms(res, "emulator", "clean", "cpu_seconds")
    install = runs["emulator"][0]
    figure = "pytest run of one empty test, with the emulator installed minus a clean venv"
    goal = f"≤ {GOAL_MS:.0f} ms"
    cpu_row = [f"{figure}: CPU", difference("emulator", "clean", "cpu_seconds"), goal]
    wall_row = [f"{figure}: wall", difference("emulator", "clean", "seconds"), goal]
    return [
        [*cpu_row, ok(cpu, cpu <= GOAL_MS)],
        [*wall_row, ok(wall, wall <= GOAL_MS)],
        [
            "  of which anyio's own pytest plugin (pytest + anyio minus a clean venv), CPU",
            difference("anyio", "clean", "cpu_seconds"),
            "—",
            "—",
        ],
        [
            "  of which the emulator's own (with the emulator minus pytest + anyio), CPU",
            difference("emulator", "anyio", "cpu_seconds"),
            "—",
            "—",
        ],
        [
            "base install (pip install ., no extra): vivi-emulator and what it requires",
            f"{install['packages']} packages, {install['bytes'] / 1e6:.0f} MB of installed files",
            "—",
            "—",
        ],
    ]
