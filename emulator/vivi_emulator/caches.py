"""The one cache helper: a bounded map owned by the object whose lifetime it shares.

Every cache of the emulator (built scripts and their encodings, build options, journaled
headers, Host decisions, routes) is one of these, held by an attribute of its owner (the service,
its journaling part, the guard, the core), never by a module: two emulators in one process share
nothing, and a cache dies with its owner. One eviction rule for all: when full, it is emptied,
which costs nothing on a hit (no recency bookkeeping on the hot path) and bounds its memory by
``size`` entries; the owner also clears it when what it was built from changes (fixtures
reloaded).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Cache(Generic[K, V]):
    """At most ``size`` entries; putting one more into a full cache empties it first."""

    __slots__ = ("_entries", "get", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a cache holds at least one entry")
        self.size = size
        self._entries: dict[K, V] = {}
        # A hit is the dict's own lookup, no Python call around it: caches sit on the hot path.
        self.get: Callable[[K], V | None] = self._entries.get

    def put(self, key: K, value: V) -> V:
        entries = self._entries
        if len(entries) >= self.size and key not in entries:
            entries.clear()
        entries[key] = value
        return value

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
