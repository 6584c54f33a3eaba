"""The history: every operation a client or the fault injector did, with its times and answer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# What a probe reply says (fixtures in ``cluster.py``): the turn, the previous message, the
# message; a queued reply starts with its name.
REPLY = re.compile(r"^(?:(?P<queued>Q\d+) )?t=(?P<turn>\d+) p=(?P<prev>\S*) m=(?P<msg>\S+)$")


@dataclass
class Op:
    """One request to an emulator process, from its start to its end (monotonic seconds)."""

    id: int
    kind: str  # invoke, stream, batch, upload, push, rotate, ... (see workload.py)
    process: int
    channel: str
    start: float
    end: float = 0.0
    status: int | None = None  # None: no status seen (the client left, or the connection broke)
    answered_at: float | None = None  # when its status came (a stream's: before its events)
    # ok: the whole answer read; hangup: the client left on purpose; broken: the connection or
    # the stream broke
    outcome: str = "broken"
    key: str | None = None
    threads: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()  # one per item (a batch has several)
    replies: tuple[str, ...] = ()  # the reply texts read, one per item
    data: dict[str, Any] = field(default_factory=dict)  # kind-specific: file size, URL, name

    def summary(self) -> str:
        said = f"{self.status}" if self.status is not None else "no status"
        return (
            f"op {self.id} {self.kind} p{self.process} {self.channel} "
            f"[{self.start:.3f}..{self.end:.3f}] {self.outcome} {said}"
            + (f" threads={list(self.threads)}" if self.threads else "")
            + (f" messages={list(self.messages)}" if self.messages else "")
            + (f" replies={list(self.replies)}" if self.replies else "")
            + (f" {self.data}" if self.data else "")
        )

    @property
    def answered(self) -> bool:
        return self.outcome == "ok" and self.status is not None

    @property
    def indeterminate(self) -> bool:
        """Its effect is unknown: the client left, the connection broke, or the store failed."""
        return not self.answered or self.status in (500, 502, 503, 504)


@dataclass
class Boundary:
    """A fault that ends a channel's state: a Redis restarted empty (every channel), or a
    channel deleted and re-created. ``begin``: when the fault started; ``done``: when it was
    over (the channels re-created); ``cut``: for a delete, when its answer came; ``ended``: for
    a delete, whether it surely ended a generation (answered 200). A delete answered otherwise
    ended none for sure: a 404 means the channel was not there (Redis emptied by a restart, the
    tool's channels not made again yet), and what a request refused meanwhile wrote (its 404's
    journal entry, under the channel id it named) stays, rightly, in the channel made next."""

    kind: str  # restart, delete
    channel: str | None  # None: every channel
    begin: float
    done: float
    cut: float = 0.0
    ended: bool = True

    def covers(self, channel: str) -> bool:
        return self.channel is None or self.channel == channel


@dataclass
class Read:
    """What was read at a quiet point (no operation in flight)."""

    at: float
    journal: dict[str, list[dict[str, Any]]]  # channel: entries
    usage: list[dict[str, Any]]  # one per process
    queue: dict[str, list[str]]  # channel: names still queued
    files: dict[str, int | None]  # url: size if served, None if not
    overrides: list[dict[str, Any]]  # one per process: forced, latency, chaos of the channel
    configured: list[Op]  # a message to each configured channel on each process


@dataclass
class History:
    seed: int
    backend: str
    ops: list[Op] = field(default_factory=list)
    boundaries: list[Boundary] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)
    # Each override round: what was written to each field (the last write of each field).
    override_rounds: list[dict[str, Any]] = field(default_factory=list)
    usage_samples: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    retired: dict[str, float] = field(default_factory=dict)  # key: when its rotation answered

    def boundaries_of(self, channel: str) -> list[Boundary]:
        return [b for b in self.boundaries if b.covers(channel)]

    def epochs(self, op: Op) -> range:
        """The epochs of its channel the op may have lived in: the one it was in from its
        start to its end, or, when a fault overlaps it, any from the one before the fault to
        the one after. A request that overlaps a delete is of the deleted generation only when
        its status came before the delete was sent (the server had begun it)."""
        first = last = 0
        for b in self.boundaries_of(op.channel):
            if b.kind == "delete" and self.began_before(op, b.begin):
                continue
            first += b.done < op.start
            last += b.begin <= op.end
        return range(first, max(first, last) + 1)

    @staticmethod
    def began_before(op: Op, at: float) -> bool:
        """The server had begun the op before ``at`` (its status had come by then)."""
        return op.answered_at is not None and op.answered_at < at

    def epoch_at(self, channel: str, at: float) -> int:
        return sum(1 for b in self.boundaries_of(channel) if b.done <= at)

    def deleted_before(self, op: Op, at: float) -> Boundary | None:
        """A delete of the op's channel, done before ``at``, that surely ended the op's
        generation: the delete was answered 200, and the server had begun the op before the
        delete was sent."""
        for b in self.boundaries_of(op.channel):
            if b.kind == "delete" and b.ended and b.done <= at and self.began_before(op, b.begin):
                return b
        return None
