"""The state store's roles: one small interface per kind of state.

A consumer asks only for the roles it uses (``files.Files`` a ``FileStore``, ``scripting.
Scripting`` a ``ScriptingStore``); a backend implements them together (``base.StateStore`` is
all of them, with the store's lifecycle). Each method is one atomic step.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Protocol

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


class KeyStore(Protocol):
    """The channels, their keys and generations."""

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


class TurnStore(Protocol):
    """Threads and their turns."""

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
    async def commit_turn(
        self, end: TurnEnd, entry: JournalEntry | None = None, as_of: KeyRing | None = None
    ) -> None:
        """Keep the turn's exchange (unless a later turn was kept already) and the thread's
        conversation, or give the turn back (``end.kept`` false); and, in the same step,
        record ``entry`` in the journal when given. All or nothing: a store that fails does
        neither. All dropped if the turn's generation ended. With ``as_of``: nothing done,
        ``KeysMoved`` raised, if the store's keys are no longer those."""


class JournalStore(Protocol):
    """The journal: one entry per request to the VIVI surface."""

    @abstractmethod
    async def record(
        self, entry: JournalEntry, generation: int | None = None, as_of: KeyRing | None = None
    ) -> None:
        """Append a finished request to the journal (the oldest go past ``journal_size``);
        dropped if ``generation`` is given and is not its channel's current one; with
        ``as_of``, as ``commit_turn``."""

    @abstractmethod
    async def journal(self) -> list[JournalEntry]:
        """Every kept entry, oldest first."""

    @abstractmethod
    async def clear_journal(self, channel_id: str | None = None) -> None: ...


class ScriptingStore(Protocol):
    """What a test scripts at run time: the one-shot queue, and the overrides of each scope."""

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

    @abstractmethod
    async def overrides(self, scope: str | None) -> Overrides: ...

    @abstractmethod
    async def set_override(self, scope: str | None, name: str, value: object) -> None:
        """Set one field of a scope's overrides (None: unset), leaving the others as they are:
        two processes setting two fields at once both win."""


class FileStore(Protocol):
    """Uploaded files, under the byte quota."""

    @abstractmethod
    async def put_files(
        self, channel_id: str, files: list[NewFile], generation: int | None = None
    ) -> list[str]:
        """Keep the files for ``file_ttl_seconds``; return their random, unguessable ids.
        All or none: QuotaExceeded if they do not fit in the byte quota; ChannelGone if
        ``generation`` is not the channel's current one."""

    @abstractmethod
    async def get_file(self, file_id: str) -> StoredFile | None: ...
