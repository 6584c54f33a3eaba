"""The machine a run ran on, for results.md: load, CPU, memory, versions of everything measured."""

# ruff: noqa: S603  (fixed argv built by the harness, no shell)

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from .common import PEERS, REPO


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


LOAD_AT_START = loadavg()  # other work on the machine shows here: the ratios are what to trust


def _first_line(argv: list[str]) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    out = (p.stdout + p.stderr).strip()
    return out.splitlines()[0] if out else ""


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "not installed"


def _npm_version(pkg: str) -> str:
    try:
        return str(json.loads((PEERS / pkg / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "not installed"


def _cpu_and_memory() -> tuple[str, str]:
    cpu, mem = "", ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, IndexError, ValueError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    return cpu, mem


def _commit() -> str:
    commit = _first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    git_status = ["git", "-C", str(REPO), "status", "--porcelain", "--", "emulator", "fixtures"]
    dirty = _first_line(git_status)
    if dirty and dirty != "not found":
        commit += ", with uncommitted changes in emulator/ or fixtures/"
    return commit


def machine_description() -> dict[str, str]:
    cpu, mem = _cpu_and_memory()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load average (1 min) at start / end": f"{LOAD_AT_START} / {loadavg()}",
        "cpus (nproc)": str(os.cpu_count()),
        "cpu model": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "vivi-emulator": f"{_version('vivi-emulator')} (commit {_commit()})",
        "granian": _version("granian"),
        "uvicorn": _version("uvicorn"),
        "uvloop / httptools": f"{_version('uvloop')} / {_version('httptools')}",
        "starlette / fastapi": f"{_version('starlette')} / {_version('fastapi')}",
        "wrk": _first_line(["wrk", "-v"]).split(" [")[0],
        "java": _first_line(["java", "-version"]),
        "node": _first_line(["node", "--version"]),
        "prism": _npm_version("@stoplight/prism-cli"),
        "wiremock": _npm_version("wiremock"),
    }
