"""Every file the emulator reads is a regular file within a bound (reading.py; issue 21, item 6)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vivi_emulator.reading import FileRefused, read_bounded, read_text


def test_a_regular_file_within_its_bound_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("port: 1\n")
    assert read_text(path, 8) == "port: 1\n"


def test_a_file_over_its_bound_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_bytes(b"x" * 9)
    with pytest.raises(FileRefused, match="over the limit of 8 bytes"):
        read_bounded(path, 8)


def test_a_device_is_refused_without_reading_it() -> None:
    with pytest.raises(FileRefused, match=r"not a regular file \(a device\)"):
        read_bounded(Path("/dev/zero"), 1024)


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileRefused, match=r"\(a folder\)"):
        read_bounded(tmp_path, 1024)


def test_a_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(FileRefused, match=r"\(a pipe\)"):
        read_bounded(fifo, 1024)


def test_a_file_that_says_it_is_empty_is_still_bounded() -> None:
    # /proc files report a size of 0 and hold more: the read itself stops at the bound.
    with pytest.raises(FileRefused, match="over the limit of 16 bytes"):
        read_bounded(Path("/proc/self/maps"), 16)


def test_a_refusal_is_an_oserror_whose_text_is_the_reason(tmp_path: Path) -> None:
    with pytest.raises(OSError) as caught:
        read_bounded(tmp_path, 1024)
    assert str(caught.value) == "not a regular file (a folder)"
    assert caught.value.strerror == "not a regular file (a folder)"


def test_a_missing_file_is_the_usual_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_bounded(tmp_path / "absent", 1024)
