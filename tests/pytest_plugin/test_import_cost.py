"""The plugin loads into every pytest run of an environment that has the package (pytest11), so
until a test asks for its fixture it must import next to nothing: no server, no HTTP client, no
app, and never schemathesis or hypothesis (issue 23; benchmarks: plugin-cost times it)."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["pytester"]

# What a test that never uses the fixture must not pay for.
HEAVY = (
    "anyio",
    "fastapi",
    "granian",
    "httpx",
    "hypothesis",
    "pydantic",
    "re2",
    "redis",
    "schemathesis",
    "starlette",
    "uvicorn",
    "yaml",
    "vivi_emulator.app",
    "vivi_emulator.service",
    "vivi_emulator.settings",
)

CHECK = """
import sys

HEAVY = {heavy!r}


def test_the_plugin_is_loaded_and_light(request):
    assert request.config.pluginmanager.has_plugin("vivi_emulator.pytest_plugin")
    assert "vivi_emulator.pytest_plugin" in sys.modules
    loaded = sorted(
        name for name in sys.modules
        if any(name == h or name.startswith(h + ".") for h in HEAVY)
    )
    assert loaded == []
"""

USES_IT = """
import sys


def test_the_fixture_then_brings_the_server(vivi_emulator):
    assert vivi_emulator.base_url.startswith("http://127.0.0.1:")
    assert "vivi_emulator.app" in sys.modules
"""


@pytest.fixture
def only_this_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only our plugin, as a user's pytest loads it: anyio's (which Starlette brings) and
    # hypothesis' (this project's dev install) would put their own imports in sys.modules.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    for name in list(os.environ):
        if name.startswith("VIVI_EMULATOR_"):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("only_this_plugin")
def test_pytest_start_imports_nothing_heavy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(CHECK.format(heavy=HEAVY))
    result = pytester.runpytest_subprocess("-p", "vivi_emulator.pytest_plugin")
    result.assert_outcomes(passed=1)


@pytest.mark.usefixtures("only_this_plugin")
def test_the_check_sees_the_imports_a_fixture_brings(pytester: pytest.Pytester) -> None:
    # The other side of the check above: the same sys.modules look finds the app once a test
    # asks for the fixture.
    pytester.makepyfile(USES_IT)
    result = pytester.runpytest_subprocess("-p", "vivi_emulator.pytest_plugin")
    result.assert_outcomes(passed=1)
