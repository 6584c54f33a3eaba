"""The in-memory store: the embedded default, for one process. Bounded like every store.

Every bound is kept without scanning: threads sit in least-recently-used order, so idle and
surplus threads leave from the front; files sit in the order they expire (every file lives
``file_ttl_seconds``), so expired ones leave from the front; the journal is a deque of
size-capped entries.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from vivi_emulator.journal import JournalEntry
from vivi_emulator.store.base import Bounds, QueueFull, QuotaExceeded, StateStore
from vivi_emulator.store.buckets import MemoryBuckets
from vivi_emulator.store.keys import KeyRing
from vivi_emulator.store.values import (
    KEEP,
    NO_OVERRIDES,
    Conversation,
    Keep,
    NewFile,
    Overrides,
    QueuedReply,
    StoredFile,
    Turn,
    TurnEnd,
    TurnStart,
    View,
)


@dataclass(slots=True)
class _Thread:
    count: int = 0
    attempts: int = 0  # messages received, never given back
    committed: int = 0  # the turn whose exchange is ``last``
    last: Turn | None = None
    conversation: Conversation | None = None
    seen: float = 0.0


@dataclass(frozen=True, slots=True)
class _File:
    stored: StoredFile
    expires_at: float


class MemoryStore(StateStore):
    name = "memory"

    def __init__(
        self,
        channels: Mapping[str, str],
        bounds: Bounds | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bounds = bounds or Bounds()
        self._clock = clock
        self._keys = dict(channels)
        self._ever = set(channels.values())
        self._ring = KeyRing.of(self._keys, self._ever)
        self._threads: OrderedDict[tuple[str, str], _Thread] = OrderedDict()
        self._files: OrderedDict[str, _File] = OrderedDict()
        self._file_bytes = 0
        # (id, entry): the id is given when kept, and set on the entry only when read.
        self._journal: deque[tuple[int, JournalEntry]] = deque(maxlen=self.bounds.journal_size)
        self._ids = itertools.count(1)
        self._queues: dict[str | None, deque[QueuedReply]] = {}
        self._overrides: dict[str | None, Overrides] = {}
        self._views: dict[str, View] = {}
        self._scenarios_version = 0

    def buckets(self) -> MemoryBuckets:
        return MemoryBuckets(self._clock)

    # channels and keys

    def cached_keys(self) -> KeyRing:
        return self._ring

    async def keys(self) -> KeyRing:
        return self._ring

    def _rekey(self, channel_id: str, key: str) -> None:
        self._keys[channel_id] = key
        self._ever.add(key)
        self._ring = KeyRing.of(self._keys, self._ever, self._ring.version + 1)
        self._changed()

    async def add_channel(self, channel_id: str, key: str) -> bool:
        if channel_id in self._keys:
            return False
        self._rekey(channel_id, key)
        return True

    async def set_key(self, channel_id: str, key: str) -> bool:
        if channel_id not in self._keys:
            return False
        self._rekey(channel_id, key)
        return True

    async def remove_channel(self, channel_id: str) -> bool:
        key = self._keys.pop(channel_id, None)
        if key is None:
            return False
        self._ever.discard(key)
        self._ring = KeyRing.of(self._keys, self._ever, self._ring.version + 1)
        self._changed()
        return True

    # threads

    def _prune_threads(self, now: float) -> None:
        threads = self._threads
        idle_before = now - self.bounds.thread_idle_seconds
        while threads:
            oldest = next(iter(threads.values()))
            if oldest.seen > idle_before and len(threads) <= self.bounds.max_threads:
                return
            threads.popitem(last=False)

    def _view(self, channel_id: str) -> View:
        # Made once per channel and kept until something it shows changes (``_changed``).
        view = self._views.get(channel_id)
        if view is None:
            mine = self._overrides.get(channel_id, NO_OVERRIDES)
            overrides = mine.over(self._overrides.get(None, NO_OVERRIDES))
            queued = len(self._queues.get(channel_id, ())) + len(self._queues.get(None, ()))
            view = View(self._ring.version, self._scenarios_version, overrides, queued)
            self._views[channel_id] = view
        return view

    def _changed(self) -> None:
        self._views.clear()

    async def begin_turn(self, channel_id: str, thread_id: str) -> TurnStart:
        now = self._clock()
        key = (channel_id, thread_id.lower())
        thread = self._threads.get(key)
        if thread is None:
            thread = self._threads[key] = _Thread()
        else:
            self._threads.move_to_end(key)
        thread.count += 1
        thread.attempts += 1
        thread.seen = now
        self._prune_threads(now)
        view = self._view(channel_id)
        return TurnStart(thread.count, thread.last, thread.conversation, view, thread.attempts)

    async def cancel_turn(
        self,
        channel_id: str,
        thread_id: str,
        turn: int,
        conversation: Conversation | Keep | None = KEEP,
    ) -> None:
        thread = self._threads.get((channel_id, thread_id.lower()))
        if thread is None:
            return
        if thread.count == turn:
            thread.count -= 1
        if conversation is not KEEP:
            thread.conversation = conversation

    async def commit_turn(self, end: TurnEnd, entry: JournalEntry | None = None) -> None:
        thread = self._threads.get((end.channel_id, end.thread_id.lower()))
        if thread is not None and end.turn >= thread.committed:
            thread.committed = end.turn
            thread.last = Turn(end.message, end.reply)
            thread.conversation = end.conversation
        if entry is not None:
            await self.record(entry)

    # journal

    async def record(self, entry: JournalEntry) -> None:
        self._journal.append((next(self._ids), entry))

    async def journal(self) -> list[JournalEntry]:
        return [replace(entry, id=entry_id) for entry_id, entry in self._journal]

    async def clear_journal(self, channel_id: str | None = None) -> None:
        if channel_id is None:
            self._journal.clear()
            return
        kept = [(i, e) for i, e in self._journal if e.channel != channel_id]
        self._journal.clear()
        self._journal.extend(kept)

    # the queue

    async def push(self, reply: QueuedReply) -> int:
        queue = self._queues.setdefault(reply.channel, deque())
        if len(queue) >= self.bounds.max_queued:
            raise QueueFull(f"the queue holds at most {self.bounds.max_queued} replies")
        queue.append(reply)
        self._changed()
        return len(queue)

    async def queued(self, channel_id: str | None) -> list[QueuedReply]:
        if channel_id is None:
            return [r for queue in self._queues.values() for r in queue]
        return [*self._queues.get(channel_id, ()), *self._queues.get(None, ())]

    async def claim(self, reply: QueuedReply) -> bool:
        queue = self._queues.get(reply.channel)
        if queue is None or reply not in queue:
            return False
        queue.remove(reply)
        self._changed()
        return True

    async def clear_queue(self, channel_id: str | None = None) -> None:
        if channel_id is None:
            self._queues.clear()
        else:
            self._queues.pop(channel_id, None)
        self._changed()

    # overrides

    async def overrides(self, scope: str | None) -> Overrides:
        return self._overrides.get(scope, NO_OVERRIDES)

    async def set_overrides(self, scope: str | None, overrides: Overrides) -> None:
        self._overrides[scope] = overrides
        self._changed()

    # files

    def _expire_files(self) -> None:
        now = self._clock()
        files = self._files
        while files:
            file_id, oldest = next(iter(files.items()))
            if oldest.expires_at > now:
                return
            del files[file_id]
            self._file_bytes -= len(oldest.stored.data)

    async def put_files(self, channel_id: str, files: list[NewFile]) -> list[str]:
        self._expire_files()
        size = sum(len(f.data) for f in files)
        quota = self.bounds.files_quota_bytes
        if self._file_bytes + size > quota:
            raise QuotaExceeded(
                f"uploaded files are limited to {quota} bytes in all (files_quota_bytes); "
                f"{self._file_bytes} are in use and these need {size}"
            )
        expires_at = self._clock() + self.bounds.file_ttl_seconds
        ids = []
        for new in files:
            file_id = secrets.token_urlsafe(18)
            stored = StoredFile(channel_id, new.name, new.content_type, new.data)
            self._files[file_id] = _File(stored, expires_at)
            self._file_bytes += len(new.data)
            ids.append(file_id)
        return ids

    async def get_file(self, file_id: str) -> StoredFile | None:
        self._expire_files()
        kept = self._files.get(file_id)
        return kept.stored if kept is not None else None

    async def usage(self) -> dict[str, int]:
        self._expire_files()
        self._prune_threads(self._clock())
        return {
            "threads": len(self._threads),
            "files": len(self._files),
            "file_bytes": self._file_bytes,
            "journal_entries": len(self._journal),
            "queued": sum(len(q) for q in self._queues.values()),
        }

    async def bump_scenarios(self) -> int:
        self._scenarios_version += 1
        self._changed()
        return self._scenarios_version

    async def reset(self, channel_id: str | None = None) -> None:
        if channel_id is None:
            self._threads.clear()
            self._files.clear()
            self._file_bytes = 0
            self._overrides.clear()
        else:
            for key in [k for k in self._threads if k[0] == channel_id]:
                del self._threads[key]
            for file_id in [f for f, k in self._files.items() if k.stored.channel_id == channel_id]:
                self._file_bytes -= len(self._files.pop(file_id).stored.data)
            self._overrides.pop(channel_id, None)
        self._changed()
        await self.clear_journal(channel_id)
        await self.clear_queue(channel_id)
