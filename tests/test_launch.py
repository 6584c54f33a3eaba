"""The ``vivi-emulator`` command's start-up (issue 22 item 5): what serving imports, and the
collector during the imports. Timings are the benchmarks' (benchmarks/results.md, "Start-up");
these tests check the causes, which do not depend on the machine."""

from __future__ import annotations

import gc
import importlib.util
import json
import subprocess
import sys

import pytest

from vivi_emulator import cli, launch

# Imported by the command that uses them, never by `serve` before its first answer: each name
# is what the feature brings in.
LAZY = (
    "fastapi",  # the control API, built on its first call (app._OnFirstUse)
    "vivi_emulator.control.api",
    "httpx",  # the clients of `journal` and `wire-test`
    "rich",  # help's formatting (httpx brought it in too)
    "prometheus_client",  # a scrape of /_emulator/metrics, or several workers' shared metrics
    "jsonschema",  # a channel's structured-output schema, when one is configured
    "opentelemetry",  # tracing, when an OTLP endpoint is configured
    "schemathesis",  # `contract`
    "hypothesis",
    "vivi_emulator.contract.run",
    "vivi_emulator.record.proxy",  # `record`
    "vivi_emulator.har",  # the journal as HAR
    "vivi_emulator.scenarios.latency_fit",  # `fixtures fit-latency`
    "uvicorn",  # --server uvicorn
    "redis",  # --state redis://...
    "tomllib",  # a TOML settings file
)

# What a server's worker imports (granian's, in a process of its own): the app's factory.
# The command line is the parent's business.
NOT_IN_A_WORKER = ("typer", "vivi_emulator.cli")

_LOADED = """
import json, sys
{imports}
print(json.dumps(sorted(sys.modules)))
"""


def _loaded_by(*modules: str) -> list[str]:
    """The modules a fresh interpreter holds after importing ``modules``."""
    imports = "\n".join(f"import {m}" for m in modules)
    out = subprocess.run(
        [sys.executable, "-c", _LOADED.format(imports=imports)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    loaded: list[str] = json.loads(out)
    return loaded


def _among(names: tuple[str, ...], loaded: list[str]) -> list[str]:
    return sorted(m for m in loaded if any(m == n or m.startswith(n + ".") for n in names))


def test_serve_imports_none_of_the_lazy_modules() -> None:
    # The command's imports (every command's options) and the app the worker builds.
    loaded = _loaded_by("vivi_emulator.cli", "vivi_emulator.app")
    assert "vivi_emulator.service" in loaded  # the check looks at a real serving process
    assert _among(LAZY, loaded) == []


def test_a_worker_imports_no_command_line() -> None:
    loaded = _loaded_by("vivi_emulator.app")
    assert "vivi_emulator.app" in loaded
    assert _among(NOT_IN_A_WORKER, loaded) == []


@pytest.mark.parametrize("name", LAZY + NOT_IN_A_WORKER)
def test_each_lazy_name_is_a_module_that_exists(name: str) -> None:
    # A misspelt name would pass the checks above for nothing.
    assert importlib.util.find_spec(name) is not None


def test_the_command_runs_with_the_collector_on_and_its_imports_frozen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, object] = {}

    def command() -> None:
        seen["enabled"] = gc.isenabled()
        seen["frozen"] = gc.get_freeze_count()

    monkeypatch.setattr(cli, "main", command)
    assert gc.isenabled()
    try:
        launch.main()
    finally:
        gc.unfreeze()  # this test process's objects go back to the collector
    assert seen["enabled"] is True
    frozen = seen["frozen"]
    assert isinstance(frozen, int)
    assert frozen > 0


def test_the_collector_is_on_again_when_an_import_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # A broken install (an import error) must not leave the process without a collector.
    monkeypatch.setitem(sys.modules, "vivi_emulator.cli", None)  # "not importable"
    try:
        with pytest.raises(ImportError):
            launch.main()
    finally:
        gc.unfreeze()
    assert gc.isenabled()
