"""The state store: every piece of the emulator's mutable state, behind one async interface.

Threads and their turns, uploaded files, the journal, the one-shot queue, per-scope overrides
(the forced scenario, and what later features add), and the channels' keys. Nothing else in
the emulator holds mutable state, and only the service (``service.Emulator``) calls the store.

Each method is one atomic step, so a shared backend can do it in one round trip: allocate the
next turn of a thread, claim a queued reply, rotate a key. Two backends implement it: in-memory
(one process, the default) and Redis (every worker and replica is one emulator). A third is one
new module that subclasses ``StateStore`` and registers its URL scheme (``store/__init__.py``).

A *scope* is a channel id, or ``None`` for everything (the global queue, the global overrides).
"""

from __future__ import annotations

import hmac
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from vivi_emulator.chaos import ChaosSettings
from vivi_emulator.errors import ApiError, Forbidden, NotFound, Unauthorized
from vivi_emulator.paths import API_KEY_HEADER
from vivi_emulator.scenarios.latency import LatencyProfile

if TYPE_CHECKING:
    from vivi_emulator.journal import JournalEntry
    from vivi_emulator.scenarios.model import Scenario


class StoreUnavailable(ApiError):
    """The shared store cannot be reached; the request can be retried once it is back."""

    status_code = 503


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


# --- channels and keys --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyRing:
    """A snapshot of the channels and their keys, and the order of the key checks.

    No key is 401; then an unknown channel is 404; then the channel's own key passes, a key of
    another channel is 403, anything else is 401 (docs/decisions.md, rows 3 to 5). Keys are
    compared with ``hmac.compare_digest``, always against every channel's key, so the time a
    check takes does not tell which keys exist or how much of one matched.
    """

    keys: Mapping[str, bytes] = field(default_factory=dict)
    # Every key ever in use here, rotated ones included: what the journal must never show.
    ever: frozenset[str] = frozenset()
    version: int = 0

    @classmethod
    def of(cls, keys: Mapping[str, str], ever: Iterable[str] = (), version: int = 0) -> KeyRing:
        return cls(
            {c: k.encode("utf-8") for c, k in keys.items()},
            frozenset(ever) | frozenset(keys.values()),
            version,
        )

    def channels(self) -> list[str]:
        return list(self.keys)

    def check(self, channel_id: str, presented: str | None) -> None:
        """Raise the VIVI error for this channel id and presented key, or return if it passes."""
        if not presented:
            raise Unauthorized(f"missing API key: send it in the '{API_KEY_HEADER}' header")
        expected = self.keys.get(channel_id)
        if expected is None:
            raise NotFound(f"unknown channel '{channel_id}'")
        given = presented.encode("utf-8", "surrogateescape")
        owns = hmac.compare_digest(given, expected)
        other = False
        for key in self.keys.values():
            # Every key, no early exit: the time taken says nothing about which one matched.
            other |= hmac.compare_digest(given, key)
        if owns:
            return
        if other:
            raise Forbidden(f"this API key belongs to another channel, not to '{channel_id}'")
        raise Unauthorized("invalid API key")


# --- threads ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Turn:
    """One exchange of a thread: what the user said and what the agent answered."""

    message: str
    reply: str


@dataclass(frozen=True, slots=True)
class Conversation:
    """The scenario a thread is in (one with ``turns``), and the thread's turn that answers its
    first step: turn ``t`` answers step ``t - first_turn + 1``. The service moves it when a
    message outside the conversation (a named scenario) opens a turn, or when a step answers
    with a status (which gives its turn back), so that the steps go on where they were."""

    scenario: str
    first_turn: int


class Keep(Enum):
    """Leave the thread's conversation as it is (``cancel_turn``)."""

    KEEP = "keep"


KEEP = Keep.KEEP


class Overrides(BaseModel):
    """Settings changed at run time for a scope (a channel, or everything): what every request
    of the scope gets until reset. A channel's value wins over the global one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    forced: str | None = None
    # Faults at a rate (chaos.ChaosSettings); one without faults turns configured chaos off.
    chaos: ChaosSettings | None = None
    latency: LatencyProfile | None = None

    def over(self, base: Overrides) -> Overrides:
        """These overrides on top of ``base``: a field set here wins."""
        mine = {
            name: value
            for name in Overrides.model_fields
            if (value := getattr(self, name)) is not None
        }
        return base.model_copy(update=mine) if mine else base


NO_OVERRIDES = Overrides()


@dataclass(frozen=True, slots=True)
class View:
    """The shared state a message needs, read in the same step that opens its turn."""

    # Versions: a process keeps copies of the keys and the scenarios, and refreshes a copy
    # when the store's version moved (another process rotated a key or reloaded fixtures).
    keys_version: int = 0
    scenarios_version: int = 0
    overrides: Overrides = NO_OVERRIDES
    # Queued replies waiting for this channel, and for any channel.
    queued: int = 0


@dataclass(frozen=True, slots=True)
class TurnStart:
    turn: int  # 1-based, allocated atomically: two concurrent messages get two turns
    previous: Turn | None
    conversation: Conversation | None
    view: View
    # How many messages the thread has received, this one included; never given back (a turn
    # is): what chaos draws from, so that a retried request is drawn again.
    attempt: int = 0


# --- the queue and files ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueuedReply:
    id: str
    scenario: Scenario
    channel: str | None = None  # None: any channel may consume it


@dataclass(frozen=True, slots=True)
class NewFile:
    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class StoredFile:
    channel_id: str
    name: str
    content_type: str
    data: bytes


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
    async def commit_turn(
        self,
        channel_id: str,
        thread_id: str,
        turn: int,
        exchange: Turn,
        conversation: Conversation | None,
        entry: JournalEntry | None = None,
    ) -> None:
        """Keep the turn's exchange and the thread's conversation; and, in the same step,
        record ``entry`` in the journal when given."""

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
