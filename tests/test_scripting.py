"""Run-time scripting from several processes at once: each setting is changed on its own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from vivi_emulator.scenarios.latency import LatencyProfile
from vivi_emulator.service import Emulator
from vivi_emulator.settings import Settings

from tests.support import CHANNEL


@pytest.fixture
async def replicas(redis_url: str) -> AsyncIterator[tuple[Emulator, Emulator]]:
    """Two emulators on one Redis, as two replicas are."""
    settings = Settings(access_log=False, reload_fixtures=False, state=redis_url)
    pair = Emulator(settings), Emulator(settings)
    for emulator in pair:
        await emulator.start()
    yield pair
    for emulator in pair:
        await emulator.close()


async def test_settings_changed_at_once_by_two_replicas_are_both_kept(
    replicas: tuple[Emulator, Emulator],
) -> None:
    first, second = replicas
    profile = LatencyProfile(name="slow", first_event=0.5)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(first.scripting.force, "rate-limited", CHANNEL)
        tasks.start_soon(second.scripting.set_latency, profile, CHANNEL)
    assert await first.scripting.forced(CHANNEL) == "rate-limited"
    assert (await second.scripting.latency(CHANNEL))[0].name == "slow"
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(first.scripting.force, None, CHANNEL)
        tasks.start_soon(second.scripting.set_chaos, None, CHANNEL)
    assert await second.scripting.forced(CHANNEL) is None
    assert (await first.scripting.latency(CHANNEL))[0].name == "slow"
