"""Hot reload: a changed file is picked up; a broken edit keeps the last good set."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from vivi_emulator.fixture_watch import reload_now, watch_fixtures
from vivi_emulator.service import Emulator
from vivi_emulator.settings import Settings

GOOD = "scenarios:\n  - {name: mine, text: first}\n"


@pytest.fixture
def emulator(tmp_path: Path) -> Emulator:
    (tmp_path / "mine.yaml").write_text(GOOD)
    return Emulator(Settings(fixtures=(tmp_path,)))


async def test_reload_picks_up_changes(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("scenarios:\n  - {name: mine, text: second}\n")
    assert await reload_now(emulator)
    assert emulator.scenarios.get("mine").text == "second"  # type: ignore[union-attr]


async def test_broken_edit_keeps_the_last_good_set(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = emulator.scenarios
    (tmp_path / "mine.yaml").write_text("scenarios:\n  - {name: mine, text: [oops\n")
    assert not await reload_now(emulator)
    assert emulator.scenarios is before
    # The line where the unclosed list opens.
    assert "mine.yaml:2: not valid YAML, column 24: a [ list is not closed" in caplog.text
    assert "keeping the last good set" in caplog.text


async def test_watcher_reloads_when_a_file_changes(emulator: Emulator, tmp_path: Path) -> None:
    stop, reloaded = anyio.Event(), anyio.Event()

    def heard(loaded: bool) -> None:
        if loaded:
            reloaded.set()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(watch_fixtures, emulator, stop, heard)
        # The watcher may not watch yet when the first edit lands: edit again until it reloads
        # (the reload itself is the event waited on; each edit is a fresh change to notice).
        with anyio.fail_after(10):
            edits = 0
            while not reloaded.is_set():
                edits += 1
                text = f"scenarios:\n  - {{name: mine, text: watched-{edits}}}\n"
                (tmp_path / "mine.yaml").write_text(text)
                with anyio.move_on_after(1):
                    await reloaded.wait()
        assert emulator.scenarios.get("mine").text.startswith("watched-")  # type: ignore[union-attr]
        stop.set()
