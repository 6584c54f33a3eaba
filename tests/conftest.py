from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from vivi_emulator.app import create_app
from vivi_emulator.settings import Settings


@pytest.fixture
def settings() -> Settings:
    return Settings(access_log=False)


@pytest.fixture
def app(settings: Settings) -> Starlette:
    return create_app(settings)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """The emulator in-process, through httpx's ASGI transport: no socket, no port."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator.test") as client:
        yield client
