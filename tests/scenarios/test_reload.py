"""Hot reload: a changed file is picked up; a broken edit keeps the last good set."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from vivi_emulator.core import Emulator
from vivi_emulator.scenarios.reload import reload_now, watch_fixtures
from vivi_emulator.settings import Settings

GOOD = "scenarios:\n  - {name: mine, text: first}\n"


@pytest.fixture
def emulator(tmp_path: Path) -> Emulator:
    (tmp_path / "mine.yaml").write_text(GOOD)
    return Emulator(Settings(fixtures=(tmp_path,)))


def test_reload_picks_up_changes(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("scenarios:\n  - {name: mine, text: second}\n")
    assert reload_now(emulator)
    assert emulator.scenarios.get("mine").text == "second"  # type: ignore[union-attr]


def test_broken_edit_keeps_the_last_good_set(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = emulator.scenarios
    (tmp_path / "mine.yaml").write_text("scenarios:\n  - {name: mine, text: [oops\n")
    assert not reload_now(emulator)
    assert emulator.scenarios is before
    assert "mine.yaml:3: not valid YAML" in caplog.text
    assert "keeping the last good set" in caplog.text


async def test_watcher_reloads_when_a_file_changes(emulator: Emulator, tmp_path: Path) -> None:
    stop = anyio.Event()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(watch_fixtures, emulator, stop)
        await anyio.sleep(0.3)  # let the watcher start
        (tmp_path / "mine.yaml").write_text("scenarios:\n  - {name: mine, text: watched}\n")
        with anyio.fail_after(10):
            while emulator.scenarios.get("mine").text != "watched":  # type: ignore[union-attr]  # noqa: ASYNC110 - polling state the watcher owns
                await anyio.sleep(0.05)
        stop.set()
