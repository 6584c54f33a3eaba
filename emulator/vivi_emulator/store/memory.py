"""The in-memory store: the embedded default, for one process. Bounded like every store.

Every bound is kept without scanning: threads sit in least-recently-used order, so idle and
surplus threads leave from the front; files sit in the order they expire (every file lives
``file_ttl_seconds``), so expired ones leave from the front, and each channel has an index of
its own; the journal is a deque of size-capped entries; the keys kept redacted are the most
recent ``redacted_keys``.

Each method is one atomic step: no ``await`` between what it reads and what it writes.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from vivi_emulator.journal import JournalEntry
from vivi_emulator.store.base import (
    Bounds,
    ChannelGone,
    KeysMoved,
    QueueFull,
    QuotaExceeded,
    StateStore,
)
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
    # Turns given back while a later one was open: they go when the turns above them do.
    returned: set[int] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _File:
    stored: StoredFile
    expires_at: float


class MemoryStore(StateStore):
    name = "memory"
    waits = False  # no step awaits anything (nor do its rate-limit buckets, MemoryBuckets)

    def __init__(
        self,
        channels: Mapping[str, str],
        bounds: Bounds | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bounds = bounds or Bounds()
        self._clock = clock
        self._keys = dict(channels)
        # Keys ever used, the most recent last (a dict: ordered, and a key used again moves).
        self._ever: dict[str, None] = dict.fromkeys(channels.values())
        self._generation = itertools.count(1)
        self._generations = {c: next(self._generation) for c in channels}
        self._ring = KeyRing.of(self._keys, self._ever, 0, self._generations)
        self._threads: OrderedDict[tuple[str, str], _Thread] = OrderedDict()
        self._files: OrderedDict[str, _File] = OrderedDict()
        self._channel_files: dict[str, set[str]] = {}
        self._file_bytes = 0
        # (id, entry): the id is given when kept, and set on the entry only when read.
        self._journal: deque[tuple[int, JournalEntry]] = deque(maxlen=self.bounds.journal_size)
        self._ids = itertools.count(1)
        self._queues: dict[str | None, deque[QueuedReply]] = {}
        self._queue_numbers: dict[str | None, int] = {}
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

    def _remember(self, key: str) -> None:
        ever = self._ever
        ever.pop(key, None)
        ever[key] = None
        while len(ever) > self.bounds.redacted_keys:
            del ever[next(iter(ever))]

    def _new_ring(self) -> None:
        self._ring = KeyRing.of(self._keys, self._ever, self._ring.version + 1, self._generations)
        self._changed()

    async def add_channel(self, channel_id: str, key: str) -> bool:
        if channel_id in self._keys:
            return False
        self._keys[channel_id] = key
        self._generations[channel_id] = next(self._generation)
        self._remember(key)
        self._new_ring()
        return True

    async def set_key(self, channel_id: str, key: str) -> bool:
        if channel_id not in self._keys:
            return False
        self._keys[channel_id] = key
        self._remember(key)
        self._new_ring()
        return True

    async def remove_channel(self, channel_id: str) -> bool:
        if self._keys.pop(channel_id, None) is None:
            return False
        del self._generations[channel_id]
        self._new_ring()
        self._reset_channel(channel_id)
        return True

    def _lasts(self, channel_id: str | None, generation: int | None) -> bool:
        """Whether a request of ``generation`` may still write for the channel."""
        return (
            generation is None
            or channel_id is None
            or self._generations.get(channel_id) == generation
        )

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
            view = View(
                self._ring.version,
                self._scenarios_version,
                overrides,
                queued,
                self._generations.get(channel_id, 0),
            )
            self._views[channel_id] = view
        return view

    def _changed(self) -> None:
        self._views.clear()

    async def begin_turn(
        self, channel_id: str, thread_id: str, generation: int | None = None
    ) -> TurnStart:
        if not self._lasts(channel_id, generation):
            raise ChannelGone(channel_id)
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
        generation: int | None = None,
    ) -> None:
        if self._lasts(channel_id, generation):
            self._give_back(channel_id, thread_id, turn, conversation)

    def _still(self, as_of: KeyRing | None) -> None:
        if as_of is not None and as_of.version != self._ring.version:
            raise KeysMoved()

    def _give_back(
        self, channel_id: str, thread_id: str, turn: int, conversation: Conversation | Keep | None
    ) -> None:
        thread = self._threads.get((channel_id, thread_id.lower()))
        if thread is None:
            return
        if thread.count == turn:
            thread.count -= 1
            while thread.count in thread.returned:
                thread.returned.discard(thread.count)
                thread.count -= 1
        elif thread.committed < turn < thread.count:
            thread.returned.add(turn)
        if conversation is not KEEP:
            thread.conversation = conversation

    async def commit_turn(
        self, end: TurnEnd, entry: JournalEntry | None = None, as_of: KeyRing | None = None
    ) -> None:
        self._still(as_of)
        if not self._lasts(end.channel_id, end.generation):
            return
        thread = self._threads.get((end.channel_id, end.thread_id.lower()))
        if not end.kept:
            self._give_back(end.channel_id, end.thread_id, end.turn, end.conversation)
        elif thread is not None and end.turn >= thread.committed:
            thread.committed = end.turn
            if thread.returned:  # below a kept turn, a turn given back stays a gap
                thread.returned = {t for t in thread.returned if t > end.turn}
            thread.last = Turn(end.message, end.reply)
            if end.conversation is not KEEP:
                thread.conversation = end.conversation
        if entry is not None:
            self._journal.append((next(self._ids), entry))

    # journal

    async def record(
        self, entry: JournalEntry, generation: int | None = None, as_of: KeyRing | None = None
    ) -> None:
        self._still(as_of)
        if self._lasts(entry.channel, generation):
            self._journal.append((next(self._ids), entry))

    async def journal(self) -> list[JournalEntry]:
        return [entry._replace(id=entry_id) for entry_id, entry in self._journal]

    async def clear_journal(self, channel_id: str | None = None) -> None:
        self._clear_journal(channel_id)

    def _clear_journal(self, channel_id: str | None) -> None:
        if channel_id is None:
            self._journal.clear()
            return
        kept = [(i, e) for i, e in self._journal if e.channel != channel_id]
        self._journal.clear()
        self._journal.extend(kept)

    # the queue

    async def queue_number(self, scope: str | None) -> int:
        number = self._queue_numbers[scope] = self._queue_numbers.get(scope, 0) + 1
        return number

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

    async def claim(
        self, reply: QueuedReply, channel_id: str | None = None, generation: int | None = None
    ) -> bool:
        queue = self._queues.get(reply.channel)
        if queue is None or not self._lasts(channel_id, generation):
            return False
        for index, waiting in enumerate(queue):
            if waiting.id == reply.id:  # by id: a reply is the one queued, whatever it holds
                del queue[index]
                self._changed()
                return True
        return False

    async def clear_queue(self, channel_id: str | None = None) -> None:
        self._clear_queue(channel_id)

    def _clear_queue(self, channel_id: str | None) -> None:
        if channel_id is None:
            self._queues.clear()
            self._queue_numbers.clear()
        else:
            self._queues.pop(channel_id, None)
            self._queue_numbers.pop(channel_id, None)
        self._changed()

    # overrides

    async def overrides(self, scope: str | None) -> Overrides:
        return self._overrides.get(scope, NO_OVERRIDES)

    async def set_override(self, scope: str | None, name: str, value: object) -> None:
        current = self._overrides.get(scope, NO_OVERRIDES)
        self._overrides[scope] = current.model_copy(update={name: value})
        self._changed()

    # files

    def _expire_files(self) -> None:
        now = self._clock()
        files = self._files
        while files:
            file_id, oldest = next(iter(files.items()))
            if oldest.expires_at > now:
                return
            self._forget_file(file_id)

    def _forget_file(self, file_id: str) -> None:
        """Forget a file, and its bytes in the quota: only what is actually removed counts."""
        kept = self._files.pop(file_id, None)
        if kept is None:
            return
        self._file_bytes -= len(kept.stored.data)
        mine = self._channel_files.get(kept.stored.channel_id)
        if mine is not None:
            mine.discard(file_id)
            if not mine:
                del self._channel_files[kept.stored.channel_id]

    async def put_files(
        self, channel_id: str, files: list[NewFile], generation: int | None = None
    ) -> list[str]:
        if not self._lasts(channel_id, generation):
            raise ChannelGone(channel_id)
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
        mine = self._channel_files.setdefault(channel_id, set())
        for new in files:
            file_id = secrets.token_urlsafe(18)
            stored = StoredFile(channel_id, new.name, new.content_type, new.data)
            self._files[file_id] = _File(stored, expires_at)
            self._file_bytes += len(new.data)
            mine.add(file_id)
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
        if channel_id is not None:
            self._reset_channel(channel_id)
            return
        self._threads.clear()
        self._files.clear()
        self._channel_files.clear()
        self._file_bytes = 0
        self._overrides.clear()
        self._clear_journal(None)
        self._clear_queue(None)

    def _reset_channel(self, channel_id: str) -> None:
        for key in [k for k in self._threads if k[0] == channel_id]:
            del self._threads[key]
        for file_id in list(self._channel_files.get(channel_id, ())):
            self._forget_file(file_id)
        self._overrides.pop(channel_id, None)
        self._clear_journal(channel_id)
        self._clear_queue(channel_id)
