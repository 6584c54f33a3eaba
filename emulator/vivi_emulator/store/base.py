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
from vivi_emulator.store.roles import (
    FileStore,
    JournalStore,
    KeyStore,
    ScriptingStore,
    TurnStore,
)

if TYPE_CHECKING:
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


class ChannelGone(NotFound):
    """The request's channel was deleted while it was served (its generation ended): what
    it would still write is refused, never given to a channel re-created with the same id."""

    def __init__(self, channel_id: str) -> None:
        super().__init__(f"channel '{channel_id}' was deleted while this request was served")


class KeysMoved(Exception):
    """The store's keys are no longer the ones a step was given (``as_of``: their epoch and
    version): another process rotated a key, added or removed a channel, or Redis was emptied.
    The step wrote nothing; the caller checks the request's key again and retries."""


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


class StateStore(KeyStore, TurnStore, JournalStore, ScriptingStore, FileStore, ABC):
    """Every role (``store/roles.py``) and the store's lifecycle: what a backend implements;
    see the module's docstring."""

    name: str
    bounds: Bounds
    # Whether a step may wait (on the network). A step that never waits runs to its end once
    # started: no cancellation can strike inside it, so settling a request on such a store
    # needs no shield (``exchange.Exchange``). True unless a backend knows better.
    waits: bool = True

    async def start(self) -> None:
        """Connect and check the store is usable; raise StoreUnavailable if it is not."""
        return

    async def check(self) -> None:
        """``start``, once for a whole run before its workers start (``serve``), saying in
        the log what the run should know of the store (once, not once per worker)."""
        await self.start()

    async def close(self) -> None:
        return

    def buckets(self) -> Buckets:
        """The rate limiter's role on this backend (``store.buckets``); one process's by default."""
        from vivi_emulator.store.buckets import MemoryBuckets

        return MemoryBuckets()

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
