"""Reading a file the emulator is given (settings, a latency profile, fixtures, recordings):
a regular file, within a size bound, or a clear refusal.

A path is the user's input: ``VIVI_EMULATOR_LATENCY=/dev/zero`` read without end until the
process was killed, and a FIFO would block the start for ever. So the file is opened without
blocking, checked on the opened descriptor (no race between the check and the read), and read
to at most its bound plus one byte: a file that grows meanwhile, or a ``/proc`` file that says it
is empty, is still bounded.

The bounds (README "Bounds", SECURITY.md) are fixed: these files are written by hand or by the
emulator's own commands, far below them.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MIB = 1024 * 1024
MAX_SETTINGS_FILE_BYTES = 1 * MIB
MAX_PROFILE_FILE_BYTES = 1 * MIB
# A fixture file holds whole replies (each up to a million characters) and recorded frames.
MAX_FIXTURE_FILE_BYTES = 16 * MIB
# A recording (``vivi-emulator record``) is a fixture file.
MAX_RECORDING_FILE_BYTES = MAX_FIXTURE_FILE_BYTES
# A HAR a browser saved (`record --from-har`): every body of a session, so more room.
MAX_HAR_FILE_BYTES = 64 * MIB


class FileRefused(OSError):
    """A path that is not a regular file, or a file over its bound. An ``OSError``, so that
    every reader's "cannot read" path reports it; its text is the reason alone."""

    def __init__(self, reason: str, path: Path) -> None:
        super().__init__(errno.EINVAL, reason, str(path))

    def __str__(self) -> str:
        return str(self.strerror)


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path``, if it holds at most ``limit`` bytes.

    Raises ``FileRefused`` for a directory, a device, a FIFO or a socket, and for a file over
    ``limit``; ``OSError`` as ``open`` does (no such file, no permission).
    """
    # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"not a regular file ({_kind(info.st_mode)})", path)
        if info.st_size > limit:
            raise FileRefused(_too_large(limit), path)
        data = _read_at_most(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise FileRefused(_too_large(limit), path)
    return data


def read_text(path: Path, limit: int) -> str:
    """``read_bounded``, as UTF-8 text (``UnicodeDecodeError`` if it is not)."""
    return read_bounded(path, limit).decode("utf-8")


def _read_at_most(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left > 0:
        chunk = os.read(fd, min(left, MIB))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> str:
    return f"the file is over the limit of {limit} bytes"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"
