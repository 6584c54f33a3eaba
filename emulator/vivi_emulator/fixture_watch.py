"""Hot reload: when a fixture file changes, load the set again; keep the last good one on error."""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
from watchfiles import awatch

from vivi_emulator.scenarios.loader import FixtureError
from vivi_emulator.service import Emulator

log = logging.getLogger("vivi_emulator.fixtures")


async def reload_now(emulator: Emulator) -> bool:
    """Reload the scenarios; True if the new set is in use, False if the old one was kept."""
    try:
        scenarios = await emulator.reload_scenarios()
    except FixtureError as exc:
        log.warning("fixtures not reloaded; keeping the last good set:\n%s", exc)
        return False
    log.info("fixtures reloaded: %d scenarios", len(scenarios.scenarios))
    return True


async def watch_fixtures(
    emulator: Emulator,
    stop: anyio.Event,
    on_reload: Callable[[bool], object] | None = None,
) -> None:
    """Reload whenever a YAML file in a fixture folder changes, until ``stop`` is set;
    ``on_reload`` hears whether each reload took."""
    folders = [str(f) for f in emulator.fixture_folders if f.is_dir()]
    if not folders:
        return
    async for changes in awatch(*folders, stop_event=stop, debounce=200, recursive=False):
        if any(path.endswith((".yaml", ".yml")) for _, path in changes):
            loaded = await reload_now(emulator)
            if on_reload is not None:
                on_reload(loaded)
