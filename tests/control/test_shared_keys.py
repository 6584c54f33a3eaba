"""8. Two channels may not share one key: refused when a channel is added or its key rotated,
on both state stores (the settings refuse it at start: tests/test_settings.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from vivi_emulator.settings import Settings

from tests.support import KEY, serving, url

C = "/_emulator"
MESSAGE = {"message": "hi", "threadId": "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"}


@pytest.fixture
async def client(state: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(Settings(access_log=False, reload_fixtures=False, state=state)) as c:
        yield c


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    reason = "is the key of another channel; each channel needs a key of its own"
    assert response.json()["errors"] == [{"field": "key", "reason": reason}]
    assert KEY not in response.text


async def test_a_new_channel_with_another_channels_key_is_refused(
    client: httpx.AsyncClient,
) -> None:
    _refused(await client.post(f"{C}/channels", json={"id": "copy", "key": KEY}))
    assert "copy" not in (await client.get(f"{C}/channels")).json()["channels"]


async def test_a_rotation_to_another_channels_key_is_refused(client: httpx.AsyncClient) -> None:
    added = await client.post(f"{C}/channels", json={"id": "other", "key": "other-key"})
    assert added.status_code == 201
    _refused(await client.post(f"{C}/channels/other/rotate", json={"key": KEY}))
    # Nothing changed: each key still opens its own channel only.
    other_key = {"vivi-api-key": "other-key"}
    other = await client.post(url("invoke", "other"), headers=other_key, json=MESSAGE)
    assert other.status_code == 200


async def test_a_channel_may_keep_its_own_key(client: httpx.AsyncClient) -> None:
    rotated = await client.post(f"{C}/channels/demo-channel/rotate", json={"key": KEY})
    assert rotated.status_code == 200
