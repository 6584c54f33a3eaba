"""The state store: every piece of the emulator's mutable state, behind one async interface.

Threads and their turns, uploaded files, the journal, the one-shot queue, per-scope overrides
(the forced scenario, and what later features add), and the channels' keys. Nothing else in
the emulator holds mutable state, and only the service (``service.Emulator``) calls the store.

Each method is one atomic step, so a shared backend can do it in one round trip: allocate the
next turn of a thread, claim a queued reply, rotate a key. Two backends implement it: in-memory
(one process, the default) and Redis (every worker and replica is one emulator). A third is one
new module that subclasses ``StateStore`` and registers its URL scheme (``store/__init__.py``).

A *scope* is a channel id, or ``None`` for everything (the global queue, the global overrides).
The values the store keeps and answers with are in ``store/values.py``; the keys' snapshot and
the order of the key checks in ``store/keys.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vivi_emulator.errors import ApiError
from vivi_emulator.store.keys import KeyRing
from vivi_emulator.store.values import (
    KEEP,
    Conversation,
    Keep,
    NewFile,
    Overrides,
    QueuedReply,
    StoredFile,
    TurnEnd,
    TurnStart,
)

if TYPE_CHECKING:
    from vivi_emulator.journal import JournalEntry
    from vivi_emulator.store.buckets import Buckets


# A reconnect to Redis is tried on the next request: a second is soon enough to try again.
RETRY_AFTER_SECONDS = "1"


class StoreUnavailable(ApiError):
    """The shared store cannot be reached; the request can be retried once it is back."""

    status_code = 503

    def __init__(self, detail: str) -> None:
        # The contract's 503 says when to try again (docs/decisions.md, row 34).
        super().__init__(detail, headers={"retry-after": RETRY_AFTER_SECONDS})


class QuotaExceeded(ApiError):
    """Storing this would go over a configured bound (the files' byte quota)."""

    status_code = 507


class QueueFull(ApiError):
    status_code = 422


@dataclass(frozen=True, slots=True)
class Bounds:
    """What the store may hold; every store enforces the same bounds (README, "Bounds")."""

    max_threads: int = 10_000
    thread_idle_seconds: float = 3600.0
    files_quota_bytes: int = 256 * 1024 * 1024
    file_ttl_seconds: float = 3600.0
    journal_size: int = 1000
    max_queued: int = 1000


class StateStore(ABC):
    """The interface both backends implement; see the module's docstring."""

    name: str
    bounds: Bounds

    async def start(self) -> None:
        """Connect and check the store is usable; raise StoreUnavailable if it is not."""
        return

    async def close(self) -> None:
        return

    def buckets(self) -> Buckets:
        """The rate limiter's role on this backend (``store.buckets``); one process's by default."""
        from vivi_emulator.store.buckets import MemoryBuckets

        return MemoryBuckets()

    # channels and keys

    @abstractmethod
    def cached_keys(self) -> KeyRing:
        """The keys as this process last saw them (current for a one-process store)."""

    @abstractmethod
    async def keys(self) -> KeyRing:
        """The current keys (a shared store checks its version: one round trip)."""

    @abstractmethod
    async def add_channel(self, channel_id: str, key: str) -> bool:
        """Add a channel; False if it exists."""

    @abstractmethod
    async def set_key(self, channel_id: str, key: str) -> bool:
        """Give a channel a new key (the old one stops working at once); False if unknown."""

    @abstractmethod
    async def remove_channel(self, channel_id: str) -> bool:
        """Remove a channel and its key (its requests are 404 from now on); False if unknown.

        Its current key leaves the keys ever used too: channels made and removed by test runs
        would otherwise grow that set, and every key check and redaction with it.
        """

    # threads

    @abstractmethod
    async def begin_turn(self, channel_id: str, thread_id: str) -> TurnStart:
        """Open the thread's next turn (creating the thread), with what the request needs."""

    @abstractmethod
    async def cancel_turn(
        self,
        channel_id: str,
        thread_id: str,
        turn: int,
        conversation: Conversation | Keep | None = KEEP,
    ) -> None:
        """Give a turn back (its answer was a status reply: the agent never saw the message),
        if no later turn was opened meanwhile; and set the thread's conversation unless
        ``KEEP``."""

    @abstractmethod
    async def commit_turn(self, end: TurnEnd, entry: JournalEntry | None = None) -> None:
        """Keep the turn's exchange (unless a later turn was kept already) and the thread's
        conversation; and, in the same step, record ``entry`` in the journal when given."""

    # journal

    @abstractmethod
    async def record(self, entry: JournalEntry) -> None:
        """Append a finished request to the journal (the oldest go past ``journal_size``)."""

    @abstractmethod
    async def journal(self) -> list[JournalEntry]:
        """Every kept entry, oldest first."""

    @abstractmethod
    async def clear_journal(self, channel_id: str | None = None) -> None: ...

    # the one-shot queue

    @abstractmethod
    async def push(self, reply: QueuedReply) -> int:
        """Queue a reply for its scope; return how many wait there. QueueFull past the bound."""

    @abstractmethod
    async def queued(self, channel_id: str | None) -> list[QueuedReply]:
        """The replies waiting for this channel, then those for any channel, in order; with
        ``None``, every queued reply."""

    @abstractmethod
    async def claim(self, reply: QueuedReply) -> bool:
        """Take a queued reply; False if another request took it first (exactly once)."""

    @abstractmethod
    async def clear_queue(self, channel_id: str | None = None) -> None: ...

    # overrides

    @abstractmethod
    async def overrides(self, scope: str | None) -> Overrides: ...

    @abstractmethod
    async def set_overrides(self, scope: str | None, overrides: Overrides) -> None: ...

    # files

    @abstractmethod
    async def put_files(self, channel_id: str, files: list[NewFile]) -> list[str]:
        """Keep the files for ``file_ttl_seconds``; return their random, unguessable ids.
        All or none: QuotaExceeded if they do not fit in the byte quota."""

    @abstractmethod
    async def get_file(self, file_id: str) -> StoredFile | None: ...

    @abstractmethod
    async def usage(self) -> dict[str, int]:
        """How much is held: threads, files, file bytes, journal entries, queued replies."""

    # fixtures

    @abstractmethod
    async def bump_scenarios(self) -> int:
        """Tell every process the fixtures changed (they reload on their next request)."""

    # reset

    @abstractmethod
    async def reset(self, channel_id: str | None = None) -> None:
        """Forget threads, files, the journal, the queue and overrides (of one channel, or
        all); channels and keys stay."""
