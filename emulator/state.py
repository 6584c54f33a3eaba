"""All the emulator's mutable state: threads and uploaded files.

Nothing else holds state, so tests can reset it in one call and a shared store could replace this
in-memory one later.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Turn:
    message: str
    reply: str


@dataclass(slots=True)
class Thread:
    turns: list[Turn] = field(default_factory=list)

    @property
    def next_turn(self) -> int:
        """The 1-based number of the turn a new message opens."""
        return len(self.turns) + 1


@dataclass(frozen=True, slots=True)
class StoredFile:
    channel_id: str
    name: str
    content_type: str
    data: bytes
    expires_at: float


class Store:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.threads: dict[tuple[str, str], Thread] = {}
        self.files: dict[str, StoredFile] = {}

    def reset(self) -> None:
        self.threads.clear()
        self.files.clear()

    def thread(self, channel_id: str, thread_id: str) -> Thread:
        key = (channel_id, thread_id.lower())
        thread = self.threads.get(key)
        if thread is None:
            thread = self.threads[key] = Thread()
        return thread

    def add_file(
        self, channel_id: str, name: str, content_type: str, data: bytes, ttl: float
    ) -> str:
        """Keep a file; return its random, unguessable id."""
        self._expire()
        file_id = secrets.token_urlsafe(18)
        self.files[file_id] = StoredFile(channel_id, name, content_type, data, self._clock() + ttl)
        return file_id

    def get_file(self, file_id: str) -> StoredFile | None:
        self._expire()
        return self.files.get(file_id)

    def _expire(self) -> None:
        now = self._clock()
        for file_id in [f for f, stored in self.files.items() if stored.expires_at <= now]:
            del self.files[file_id]
