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

from vivi_emulator.errors import ApiError, NotFound
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


class StoreUnavailable(ApiError):
    """The shared store cannot be reached; the request can be retried once it is back."""

    status_code = 503


class QuotaExceeded(ApiError):
    """Storing this would go over a configured bound (the files' byte quota)."""

    status_code = 507


class QueueFull(ApiError):
    status_code = 422


class ChannelGone(NotFound):
    """The request's channel was deleted while it was served (its generation ended): what
    it would still write is refused, never given to a channel re-created with the same id."""

    def __init__(self, channel_id: str) -> None:
        super().__init__(f"channel '{channel_id}' was deleted while this request was served")


@dataclass(frozen=True, slots=True)
class Bounds:
    """What the store may hold; every store enforces the same bounds (README, "Bounds")."""

    max_threads: int = 10_000
    thread_idle_seconds: float = 3600.0
    files_quota_bytes: int = 256 * 1024 * 1024
    file_ttl_seconds: float = 3600.0
    journal_size: int = 1000
    max_queued: int = 1000
    # Keys kept redacted after they stop being used (rotated, deleted): the most recent.
    redacted_keys: int = 1000


class StateStore(ABC):
    """The interface both backends implement; see the module's docstring."""

    name: str
    bounds: Bounds

    async def start(self) -> None:
        """Connect and check the store is usable; raise StoreUnavailable if it is not."""
        return

    async def close(self) -> None:
        return

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
        """Remove a channel, its key and everything kept for it (threads, files, journal,
        queue, overrides), in one step: its generation ends, its requests are 404 from now on,
        and what a request of it still writes is dropped; False if unknown. Its keys stay
        redacted (``redacted_keys``)."""

    # threads

    @abstractmethod
    async def begin_turn(
        self, channel_id: str, thread_id: str, generation: int | None = None
    ) -> TurnStart:
        """Open the thread's next turn (creating the thread), with what the request needs.
        ChannelGone if ``generation`` is not the channel's current one (None: not checked)."""

    @abstractmethod
    async def cancel_turn(
        self,
        channel_id: str,
        thread_id: str,
        turn: int,
        conversation: Conversation | Keep | None = KEEP,
        generation: int | None = None,
    ) -> None:
        """Give a turn back (its answer never reached the client) if no later turn was opened
        meanwhile; and set the thread's conversation unless ``KEEP``. Nothing if
        ``generation`` is given and is not the channel's current one."""

    @abstractmethod
    async def commit_turn(self, end: TurnEnd, entry: JournalEntry | None = None) -> None:
        """Keep the turn's exchange (unless a later turn was kept already) and the thread's
        conversation; and, in the same step, record ``entry`` in the journal when given. All
        dropped if the turn's generation ended."""

    # journal

    @abstractmethod
    async def record(self, entry: JournalEntry, generation: int | None = None) -> None:
        """Append a finished request to the journal (the oldest go past ``journal_size``);
        dropped if ``generation`` is given and is not its channel's current one."""

    @abstractmethod
    async def journal(self) -> list[JournalEntry]:
        """Every kept entry, oldest first."""

    @abstractmethod
    async def clear_journal(self, channel_id: str | None = None) -> None: ...

    # the one-shot queue

    @abstractmethod
    async def queue_number(self, scope: str | None) -> int:
        """The next number for a reply queued in this scope (``queued-N``): never given twice
        until the scope's queue is cleared."""

    @abstractmethod
    async def push(self, reply: QueuedReply) -> int:
        """Queue a reply for its scope; return how many wait there. QueueFull past the bound,
        checked in the same step (nothing is pushed then)."""

    @abstractmethod
    async def queued(self, channel_id: str | None) -> list[QueuedReply]:
        """The replies waiting for this channel, then those for any channel, in order; with
        ``None``, every queued reply."""

    @abstractmethod
    async def claim(
        self, reply: QueuedReply, channel_id: str | None = None, generation: int | None = None
    ) -> bool:
        """Take a queued reply by its id; False if another request took it first (exactly
        once), or if ``channel_id``'s generation is not ``generation`` (the claiming request's
        channel was deleted)."""

    @abstractmethod
    async def clear_queue(self, channel_id: str | None = None) -> None: ...

    # overrides

    @abstractmethod
    async def overrides(self, scope: str | None) -> Overrides: ...

    @abstractmethod
    async def set_override(self, scope: str | None, name: str, value: object) -> None:
        """Set one field of a scope's overrides (None: unset), leaving the others as they are:
        two processes setting two fields at once both win."""

    # files

    @abstractmethod
    async def put_files(
        self, channel_id: str, files: list[NewFile], generation: int | None = None
    ) -> list[str]:
        """Keep the files for ``file_ttl_seconds``; return their random, unguessable ids.
        All or none: QuotaExceeded if they do not fit in the byte quota; ChannelGone if
        ``generation`` is not the channel's current one."""

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
        all), in one step per channel (a channel's files through its own index, never a walk
        of every file); channels and keys stay."""
