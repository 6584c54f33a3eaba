"""This process's copy of the queued replies (``QueueCopies``), owned by the Redis client: the
step that opens a turn reads a scope's queue again only when it changed."""

from __future__ import annotations

import json
from typing import Any

from vivi_emulator.caches import Cache
from vivi_emulator.store.values import QueuedReply


def reply_of(raw: bytes) -> QueuedReply:
    from vivi_emulator.scenarios.model import Scenario

    data = json.loads(raw)
    return QueuedReply(data["id"], Scenario.model_validate(data["scenario"]), data["channel"])


def scope_of(channel_id: str | None) -> str:
    """A scope's part of its queue's key names (``q:{scope}``), as ``lua/begin.lua`` makes it."""
    return "" if channel_id is None else f"c:{channel_id}"


class QueueCopies:
    """This process's copy of each scope's queued replies, with the tail it was read at.

    A push always moves a queue's tail (a new random id at the end), so a copy whose tail is
    still the queue's holds every reply waiting, and perhaps some claimed since: a claim is the
    truth (it fails), and a reply claimed, here or elsewhere, leaves the copy when its claim is
    answered. Bounded like every cache: when full it is emptied, and a scope is read again.
    """

    def __init__(self, size: int = 256) -> None:
        self._copies: Cache[str, tuple[bytes, tuple[QueuedReply, ...]]] = Cache(size)

    def tail(self, scope: str) -> bytes:
        """The tail of the scope's copy, for the opening step (b'': no copy)."""
        copy = self._copies.get(scope)
        return copy[0] if copy is not None else b""

    def read(self, scope: str, seen: list[Any]) -> tuple[QueuedReply, ...] | None:
        """The scope's replies from what the opening step answered for it (``queue()`` in
        ``lua/begin.lua``); None if this process's copy changed meanwhile (ask the store)."""
        if int(seen[0]) == 0:
            return ()
        copy = self._copies.get(scope)
        if len(seen) == 2:
            return copy[1] if copy is not None and copy[0] == seen[1] else None
        _, tail, ids, raws = seen
        known = {r.id: r for r in copy[1]} if copy is not None else {}
        replies = tuple(
            known.get(i.decode()) or reply_of(raw)
            for i, raw in zip(ids, raws, strict=True)
            if raw is not None
        )
        self._copies.put(scope, (tail, replies))
        return replies

    def forget(self, reply: QueuedReply) -> None:
        """A claim of ``reply`` was answered: it waits no more."""
        scope = scope_of(reply.channel)
        copy = self._copies.get(scope)
        if copy is not None and any(r.id == reply.id for r in copy[1]):
            kept = tuple(r for r in copy[1] if r.id != reply.id)
            self._copies.put(scope, (copy[0], kept))
