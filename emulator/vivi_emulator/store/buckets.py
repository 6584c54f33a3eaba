"""The rate limiter's store role: token buckets and stream slots per channel, one atomic
decision per message.

A role of its own, not more methods on ``StateStore``: a small ``Buckets`` protocol that each
backend implements as its own object (``MemoryBuckets`` here; ``store.redis.buckets`` on Redis,
where the decision is one Lua step, so every worker and replica shares the buckets exactly).

The rule (the same in both): a bucket holds at most ``burst`` and refills continuously at
``per_minute / 60`` a second. A message is admitted when every bucket it draws on holds its cost
and, for a stream, a slot is free; then, and only then, every bucket is charged and the slot
taken, in the same step. A refused message changes nothing, and is told the time after which
every bucket will hold its cost (the ``Retry-After``): with nobody else drawing, a retry then
succeeds. A stream slot is held until the stream ends (``release``), or at most its scripted
duration plus ``SLOT_GRACE_SECONDS`` if its process dies first; a refused stream is told when
the earliest running stream is scheduled to end.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from vivi_emulator.ratelimit_rules import Bucket

# A slot whose stream's process died is freed this long after the stream's scripted end.
SLOT_GRACE_SECONDS = 300.0
# Channels whose buckets one process keeps (least recently used go first: a forgotten channel's
# buckets are full again, as an idle channel's would be).
MAX_CHANNELS = 10_000


@dataclass(frozen=True, slots=True)
class Demand:
    """What one message asks of its channel's limits."""

    requests: Bucket | None = None
    tokens: Bucket | None = None
    cost: int = 0  # tokens, drawn from ``tokens``
    streams: int | None = None  # a stream, under this cap of concurrent streams
    stream_seconds: float = 0.0  # the stream's scripted duration
    slot: str = ""  # the slot's name (the thread and turn), for ``release``


@dataclass(frozen=True, slots=True)
class Level:
    """A bucket after a decision: what it holds, and seconds until it is full again."""

    remaining: float
    reset: float


@dataclass(frozen=True, slots=True)
class Decision:
    """The limiter's answer: which limits refused (none: admitted), and the buckets' levels."""

    refused: tuple[str, ...] = ()  # "requests", "tokens", "streams"
    # Seconds until a retry succeeds; None: never (the cost is over the bucket's burst).
    retry_after: float | None = None
    requests: Level | None = None
    tokens: Level | None = None
    streams: int = 0  # streams running after the decision

    @property
    def admitted(self) -> bool:
        return not self.refused


class Buckets(Protocol):
    """The rate limiter's store role (see the module's docstring)."""

    async def decide(self, channel_id: str, demand: Demand) -> Decision:
        """Admit (charging every bucket, taking the slot) or refuse (changing nothing)."""
        ...

    async def release(self, channel_id: str, slot: str) -> None:
        """Free a stream's slot (its stream ended)."""
        ...

    async def reset(self, channel_id: str | None = None) -> None:
        """Fill every bucket and free every slot (of one channel, or all)."""
        ...


@dataclass(slots=True)
class _Channel:
    # bucket name -> (level, when it was computed)
    levels: dict[str, tuple[float, float]] = field(default_factory=dict)
    # slot -> (scripted end, freed at the latest)
    slots: dict[str, tuple[float, float]] = field(default_factory=dict)


def _refilled(bucket: Bucket, stored: tuple[float, float] | None, now: float) -> float:
    if stored is None:
        return float(bucket.burst)
    level, then = stored
    return min(float(bucket.burst), level + max(0.0, now - then) * bucket.per_second)


def _wait(bucket: Bucket, level: float, cost: float) -> float | None:
    """Seconds until the bucket holds ``cost``; None if it never can."""
    if cost > bucket.burst:
        return None
    return max(0.0, (cost - level) / bucket.per_second)


class MemoryBuckets:
    """``Buckets`` in one process: the same rule as the Lua step, with no ``await`` between
    reading a level and writing it, so concurrent requests of one event loop cannot interleave."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._channels: OrderedDict[str, _Channel] = OrderedDict()

    async def decide(self, channel_id: str, demand: Demand) -> Decision:
        return self.decide_now(channel_id, demand)

    def _channel(self, channel_id: str, now: float) -> _Channel:
        state = self._channels.get(channel_id)
        if state is None:
            state = self._channels[channel_id] = _Channel()
            if len(self._channels) > MAX_CHANNELS:
                self._channels.popitem(last=False)
        self._channels.move_to_end(channel_id)
        if state.slots:
            state.slots = {k: v for k, v in state.slots.items() if v[1] > now}
        return state

    def decide_now(self, channel_id: str, demand: Demand) -> Decision:
        """The decision, made without yielding to the event loop (see the class)."""
        now = self._clock()
        state = self._channel(channel_id, now)
        wanted = {"requests": (demand.requests, 1.0), "tokens": (demand.tokens, demand.cost)}
        levels: dict[str, float] = {}
        refused: list[str] = []
        waits: list[float | None] = []
        for name, (bucket, cost) in wanted.items():
            if bucket is None:
                continue
            levels[name] = level = _refilled(bucket, state.levels.get(name), now)
            if level < cost:
                refused.append(name)
                waits.append(_wait(bucket, level, cost))
        if demand.streams is not None and len(state.slots) >= demand.streams:
            refused.append("streams")
            soonest = min((end for end, _ in state.slots.values()), default=now)
            waits.append(max(0.0, soonest - now) if demand.streams > 0 else None)
        if not refused:
            _charge(state, demand, levels, now)
        return Decision(
            tuple(refused),
            _longest(waits),
            _level(demand.requests, levels.get("requests")),
            _level(demand.tokens, levels.get("tokens")),
            len(state.slots),
        )

    async def release(self, channel_id: str, slot: str) -> None:
        state = self._channels.get(channel_id)
        if state is not None:
            state.slots.pop(slot, None)

    async def reset(self, channel_id: str | None = None) -> None:
        if channel_id is None:
            self._channels.clear()
        else:
            self._channels.pop(channel_id, None)


def _charge(state: _Channel, demand: Demand, levels: dict[str, float], now: float) -> None:
    """Draw the admitted message's cost from every bucket, and take its stream slot."""
    for name, cost in (("requests", 1.0), ("tokens", float(demand.cost))):
        if name in levels:
            levels[name] -= cost
            state.levels[name] = (levels[name], now)
    if demand.streams is not None:
        end = now + demand.stream_seconds
        state.slots[demand.slot] = (end, end + SLOT_GRACE_SECONDS)


def _longest(waits: list[float | None]) -> float | None:
    """The wait until every refusing limit passes; None if one never does."""
    if any(w is None for w in waits):
        return None
    return max((w for w in waits if w is not None), default=0.0)


def _level(bucket: Bucket | None, level: float | None) -> Level | None:
    if bucket is None or level is None:
        return None
    return Level(level, max(0.0, (bucket.burst - level) / bucket.per_second))


def retry_seconds(wait: float) -> int:
    """A wait as ``Retry-After`` says it: whole seconds, rounded up (at least 1), so a retry
    after it is never early."""
    return max(1, math.ceil(wait))
