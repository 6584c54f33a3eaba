"""All the emulator's mutable state: threads, uploaded files, the request journal, the queue.

Nothing else holds state, so tests can reset it in one call and a shared store could replace this
in-memory one later.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vivi_emulator.scenarios.model import Scenario

REDACTED = "[redacted]"
# Headers that carry credentials: their values never reach the journal.
SECRET_HEADERS = frozenset({"vivi-api-key", "authorization", "cookie", "x-vivi-admin-token"})


@dataclass(frozen=True, slots=True)
class Turn:
    message: str
    reply: str


@dataclass(slots=True)
class Thread:
    """A conversation: how many turns it had, and the last ``HISTORY`` of them.

    Only recent turns are kept, so a thread hammered by a load test does not grow without bound;
    templates read only the previous turn.
    """

    HISTORY = 100

    turns: deque[Turn] = field(default_factory=lambda: deque(maxlen=Thread.HISTORY))
    count: int = 0

    @property
    def next_turn(self) -> int:
        """The 1-based number of the turn a new message opens."""
        return self.count + 1

    def add(self, turn: Turn) -> None:
        self.turns.append(turn)
        self.count += 1


@dataclass(frozen=True, slots=True)
class StoredFile:
    channel_id: str
    name: str
    content_type: str
    data: bytes
    expires_at: float


@dataclass(slots=True)
class JournalEntry:
    """One request to the VIVI surface, as the emulator saw and answered it. Never holds a key."""

    id: int
    time: float  # seconds since the epoch; ISO 8601 when read
    method: str
    path: str
    channel: str
    # As received (ASGI raw headers); decoded, with credentials redacted, when read.
    headers: list[tuple[bytes, bytes]]
    status: int = 0
    body: Any = None
    thread: str | None = None
    scenario: str | None = None
    # How the scenario was chosen: queue, forced, header, match, default.
    chosen_by: str | None = None
    events: list[dict[str, str]] | None = None
    error: str | None = None

    def as_dict(self, secrets: Iterable[str] = ()) -> dict[str, Any]:
        """The entry as JSON-ready data, with any of ``secrets`` replaced by a marker wherever a
        client put one (a key pasted into a message is still a key)."""
        data = {name: getattr(self, name) for name in self.__slots__}
        data["time"] = datetime.fromtimestamp(self.time, UTC).isoformat(timespec="milliseconds")
        if self.events is not None:  # the event dicts are shared with a cached script: copy
            data["events"] = [dict(e) for e in self.events]
        data["headers"] = redacted_headers(
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in self.headers
        )
        if isinstance(self.body, bytes):  # kept raw on the hot path; decoded when read
            text = self.body.decode("utf-8", "replace")
            try:
                data["body"] = json.loads(text)
            except ValueError:
                data["body"] = text[:4096]
        hidden = [s for s in secrets if s]
        return _scrub(data, hidden) if hidden else data


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    return value


def redacted_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name: REDACTED if name.lower() in SECRET_HEADERS else value for name, value in headers}


class Journal:
    """The last ``size`` requests, oldest first."""

    def __init__(self, size: int) -> None:
        self.entries: deque[JournalEntry] = deque(maxlen=size)
        self._ids = itertools.count(1)

    def open(
        self, method: str, path: str, channel: str, headers: list[tuple[bytes, bytes]]
    ) -> JournalEntry:
        entry = JournalEntry(
            id=next(self._ids),
            time=time.time(),
            method=method,
            path=path,
            channel=channel,
            headers=headers,
        )
        self.entries.append(entry)
        return entry

    def select(
        self,
        channel: str | None = None,
        thread: str | None = None,
        path: str | None = None,
    ) -> list[JournalEntry]:
        return [
            e
            for e in self.entries
            if (channel is None or e.channel == channel)
            and (thread is None or (e.thread or "").lower() == thread.lower())
            and (path is None or e.path == path or e.path.endswith("/" + path.strip("/")))
        ]

    def clear(self) -> None:
        self.entries.clear()


class Store:
    def __init__(
        self, clock: Callable[[], float] = time.monotonic, journal_size: int = 1000
    ) -> None:
        self._clock = clock
        self.threads: dict[tuple[str, str], Thread] = {}
        self.files: dict[str, StoredFile] = {}
        self.journal = Journal(journal_size)
        # Scripted answers pushed by a test, consumed first in, first out by matching requests.
        self.queue: deque[Scenario] = deque()
        # A scenario every request gets until reset (set from a test that cannot add headers).
        self.forced: str | None = None

    def reset(self) -> None:
        self.threads.clear()
        self.files.clear()
        self.journal.clear()
        self.queue.clear()
        self.forced = None

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
