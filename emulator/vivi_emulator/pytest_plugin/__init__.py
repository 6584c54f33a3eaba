"""The pytest plugin: the ``vivi_emulator`` fixture, for integrators' own test suites.

Installed with the package (entry point ``pytest11``), so ``pip install vivi-emulator`` is all a
test suite needs::

    import requests

    def test_my_client(vivi_emulator):
        vivi_emulator.queue_reply("Your order has shipped.")
        reply = requests.post(vivi_emulator.url("invoke"), headers=vivi_emulator.headers,
                              json={"message": "where is my order?", "threadId": str(uuid4())})
        assert reply.json()["message"] == "Your order has shipped."
        vivi_emulator.assert_called("invoke", times=1, message="where is my order?")

The emulator is a real server on a loopback port: one per test session (per pytest-xdist
worker), started on first use; or one already running, shared by many sessions
(``--vivi-emulator-url``). Either way each test gets a channel and key of its own (see
``handle.py``), so tests never see each other's scripting or requests.

Kept light on import: pytest loads this module in every session of an environment where the
package is installed; the server, httpx and the app are imported when a test first asks.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from vivi_emulator.pytest_plugin.handle import ViviEmulator

if TYPE_CHECKING:
    from vivi_emulator.pytest_plugin.control import Control

__all__ = ["EmulatorSession", "ViviEmulator"]

_MARKER = "vivi_emulator"
URL_ENV = "VIVI_EMULATOR_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vivi-emulator")
    group.addoption(
        "--vivi-emulator-url",
        dest="vivi_emulator_url",
        metavar="URL",
        default=None,
        help=f"use the emulator running at URL (shared by every test; each gets its own "
        f"channel) instead of starting one; also ini vivi_emulator_url and ${URL_ENV}. "
        f"Its admin token, if it needs one, comes from $VIVI_EMULATOR_ADMIN_TOKEN.",
    )
    parser.addini(
        "vivi_emulator_url",
        default="",
        help="the URL of a running emulator for the vivi_emulator fixture (see "
        "--vivi-emulator-url)",
    )
    parser.addini(
        "vivi_emulator_fixtures",
        type="paths",
        default=[],
        help="scenario folders for the session's own emulator, on top of the defaults (a "
        "running emulator given by URL has its own)",
    )
    parser.addini(
        "vivi_emulator_strict",
        type="bool",
        default=False,
        help="fail a test when a request to its channel matched no scenario",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(strict=None): configure the vivi_emulator fixture for a test: strict=True "
        "fails the test when a request matched no scenario (it fell through to the default).",
    )
    url = _url(config)
    if url is not None and not url.startswith(("http://", "https://")):
        raise pytest.UsageError(
            f"vivi_emulator: the emulator's URL must be http(s)://, not {url!r}"
        )


def pytest_report_header(config: pytest.Config) -> str | None:
    url = _url(config)
    return f"vivi-emulator: using the emulator at {url}" if url else None


def _url(config: pytest.Config) -> str | None:
    """The running emulator to use: the option, else the environment, else the ini file."""
    url = config.getoption("vivi_emulator_url") or os.environ.get(URL_ENV) or ""
    url = url or str(config.getini("vivi_emulator_url"))
    return url.strip().rstrip("/") or None


@dataclass
class EmulatorSession:
    """The emulator of the test session: where it is, and whether it is shared (remote)."""

    base_url: str
    remote: bool
    control: Control

    def open_channel(self) -> ViviEmulator:
        """A new channel with a new key, for one test (pytest-xdist worker ids in its name
        help to read a shared emulator's journal)."""
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        channel_id = f"pytest-{worker}-{secrets.token_hex(6)}"
        return ViviEmulator(self.control, channel_id, self.control.add_channel(channel_id))

    def close_channel(self, handle: ViviEmulator) -> None:
        self.control.remove_channel(handle.channel_id)


@pytest.fixture(scope="session")
def vivi_emulator_session(request: pytest.FixtureRequest) -> Iterator[EmulatorSession]:
    """The session's emulator: its own, started on first use, or the one at the configured URL."""
    from vivi_emulator.pytest_plugin.control import TOKEN_ENV, Control

    url = _url(request.config)
    if url is not None:
        control = Control(url, os.environ.get(TOKEN_ENV) or None)
        try:
            control.check()
            yield EmulatorSession(url, True, control)
        finally:
            control.close()
        return

    from vivi_emulator.pytest_plugin.server import LocalServer

    folders: list[Path] = list(request.config.getini("vivi_emulator_fixtures"))
    server = LocalServer(folders)
    try:
        control = Control(server.start())
        try:
            yield EmulatorSession(control.base_url, False, control)
        finally:
            control.close()
    finally:
        server.stop()


@pytest.fixture
def vivi_emulator(
    request: pytest.FixtureRequest, vivi_emulator_session: EmulatorSession
) -> Iterator[ViviEmulator]:
    """A running VIVI emulator, with a channel and key of this test's own (``pytest --markers``
    for the options)."""
    marker = request.node.get_closest_marker(_MARKER)
    options = dict(marker.kwargs) if marker else {}
    strict = options.pop("strict", None)
    if options or (marker and marker.args):
        pytest.fail(
            f"@pytest.mark.{_MARKER}: unknown option(s) {sorted(options) or list(marker.args)}; "
            "the one option is strict=True/False (the emulator is always on a real socket)",
            pytrace=False,
        )
    if strict is None:
        strict = bool(request.config.getini("vivi_emulator_strict"))
    handle = vivi_emulator_session.open_channel()
    try:
        yield handle
        if strict:
            from vivi_emulator.pytest_plugin.verify import unmatched_failure

            journal = handle.journal()
            failure = unmatched_failure(journal, handle.channel_id, "vivi_emulator (strict)")
            if failure is not None:
                pytest.fail(failure, pytrace=False)
    finally:
        vivi_emulator_session.close_channel(handle)
