"""Real emulators for the adversarial suite: one per ASGI server, logs checked for tracebacks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.server import SERVERS, Running, start

ADMIN_TOKEN = "AdminTok-XYZ-999"
ADMIN_HEADER = "x-vivi-admin-token"

# What a server's log must never hold: a traceback (ours or the server's for an exception that
# reached it), or the edge's line for an unexpected exception (a bug, answered with a 500).
_BAD_LOG = re.compile(
    r"Traceback \(most recent call last\)"
    r"|Exception in ASGI application"
    r"|Application callable raised an exception"
    r"|vivi_emulator\.errors: unexpected "
)


def log_problems(text: str) -> list[str]:
    return [line for line in text.splitlines() if _BAD_LOG.search(line)]


@dataclass
class Served:
    """A running emulator, its server's name, and a client for it."""

    server: str
    running: Running
    http: httpx.Client

    @property
    def base_url(self) -> str:
        return self.running.base_url

    @property
    def port(self) -> int:
        return self.running.port

    def log(self) -> str:
        return self.running.log_text()


def serve(server: str, log: Path, *args: str, env: dict[str, str] | None = None) -> Served:
    running = start("--server", server, "--no-reload", *args, env=env, log=log)
    return Served(server, running, httpx.Client(base_url=running.base_url, timeout=60))


def stop(served: Served) -> str:
    served.http.close()
    _, log = served.running.stop()
    return log


@pytest.fixture(scope="package", params=SERVERS)
def served_once(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """One emulator per server for the whole suite (loopback, defaults, access log on)."""
    log = tmp_path_factory.mktemp(f"adversarial-{request.param}") / "server.log"
    served = serve(request.param, log)
    yield served
    text = stop(served)
    assert log_problems(text) == [], f"{served.server}'s log:\n{text[-4000:]}"


@pytest.fixture
def served(served_once: Served) -> Iterator[Served]:
    """The suite's emulator, reset; after the test, its log holds no traceback."""
    served_once.http.post("/_emulator/reset").raise_for_status()
    seen = len(served_once.log())
    yield served_once
    new = served_once.log()[seen:]
    assert log_problems(new) == [], f"{served_once.server}'s log:\n{new[-4000:]}"


@pytest.fixture(scope="package", params=SERVERS)
def exposed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """An emulator on every address (as in the container), with an admin token."""
    log = tmp_path_factory.mktemp(f"exposed-{request.param}") / "server.log"
    env = {"VIVI_EMULATOR_ADMIN_TOKEN": ADMIN_TOKEN}
    served = serve(request.param, log, "--host", "0.0.0.0", env=env)
    yield served
    text = stop(served)
    assert ADMIN_TOKEN not in text
    assert log_problems(text) == [], text
