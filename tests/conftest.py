from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from vivi_emulator.app import ViviApp, create_app
from vivi_emulator.settings import Settings

from tests.redis_server import RedisServer

# The Testcontainers tests need a container engine and the image that scripts/image-smoke
# builds: scripts/test-containers provides both and runs them (CI does, after the image smoke
# test). The ordinary suite does not collect them, rather than show them as skipped.
if os.environ.get("VIVI_TEST_CONTAINERS") != "1":
    collect_ignore = ["test_testcontainers.py"]

# For scripts/mutate (`--hypothesis-profile=mutation`): mutmut's trampolines slow every call, and
# the same examples for every mutant make its results comparable.
hypothesis_settings.register_profile(
    "mutation", deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


@pytest.fixture
def settings() -> Settings:
    return Settings(access_log=False)


@pytest.fixture
def app(settings: Settings) -> ViviApp:
    return create_app(settings)


@pytest.fixture
async def client(app: ViviApp) -> AsyncIterator[httpx.AsyncClient]:
    """The emulator in-process, through httpx's ASGI transport: no socket, no port."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator.test") as client:
        yield client


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the session, on a free loopback port."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied for this test."""
    redis_server.flush()
    return redis_server.url


@pytest.fixture(params=["memory", "redis"])
def state(request: pytest.FixtureRequest) -> str:
    """Each state backend in turn: the tests that take it run against both."""
    if request.param == "memory":
        return "memory"
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.fixture
def fresh_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, which the test may stop and start again."""
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()
