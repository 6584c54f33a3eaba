from __future__ import annotations

from collections.abc import Iterator

# Imported now, not on httpx's first request: pytester drops the modules a test imported when
# the test ends, and httpx keeps the first httpcore's exception classes, so an httpcore imported
# afresh after that raises errors httpx no longer recognises (a raw httpcore.ConnectError).
import httpcore  # noqa: F401
import pytest

from tests.server import Running, start


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[Running]:
    """One `vivi-emulator serve` process that several test sessions share by URL."""
    running = start("--no-access-log")
    yield running
    running.stop()
