"""The Redis store's threads and journal. A thread is a hash with a TTL (its idle time), ranked
in a sorted set by last use (the least recently used go past ``max_threads``); the journal is a
capped stream. Opening a turn and committing it (with the request's entry) are one Lua step
each, batched with the other requests' (``batch``): the hot path."""

from __future__ import annotations

import json
from typing import Any

from vivi_emulator.journal import JournalEntry
from vivi_emulator.store.redis.client import SEP, RedisClient, guarded
from vivi_emulator.store.values import KEEP, Conversation, Keep, Turn, TurnEnd, TurnStart, View


def _text(value: bytes | None) -> str | None:
    return value.decode("utf-8") if value is not None else None


class RedisThreads(RedisClient):
    @guarded
    async def begin_turn(self, channel_id: str, thread_id: str) -> TurnStart:
        if not self._seeded:
            await self._ensure_seeded()
        thread = thread_id.lower()

        async def give_back(reply: Any) -> None:
            # The caller was cancelled while this step was in flight: it never learns its
            # turn, so nobody else would give it back.
            key = f"{self._prefix}t:{channel_id}{SEP}{thread}"
            await self._cancel(keys=[key], args=[int(reply[0]), "keep", "", 0])

        reply = await self._batch.call(
            self._begin,
            self._prefix,
            channel_id,
            thread,
            self._idle_ms,
            self.bounds.max_threads,
            undo=give_back,
        )
        (turn, message, reply_text, scenario, first, keys_v, scen_v, qg, qc, og, oc, attempt) = (
            reply
        )
        overrides = self._parse_overrides(oc).over(self._parse_overrides(og))
        view = View(int(keys_v or 0), int(scen_v or 0), overrides, int(qg) + int(qc))
        previous = (
            Turn(_text(message) or "", _text(reply_text) or "") if message is not None else None
        )
        conversation = Conversation(scenario.decode(), int(first)) if scenario is not None else None
        return TurnStart(int(turn), previous, conversation, view, int(attempt))

    @guarded
    async def cancel_turn(
        self,
        channel_id: str,
        thread_id: str,
        turn: int,
        conversation: Conversation | Keep | None = KEEP,
    ) -> None:
        key = f"{self._prefix}t:{channel_id}{SEP}{thread_id.lower()}"
        if conversation is KEEP:
            args: list[Any] = [turn, "keep", "", 0]
        elif conversation is None:
            args = [turn, "clear", "", 0]
        else:
            args = [turn, "set", conversation.scenario, conversation.first_turn]
        await self._cancel(keys=[key], args=args)

    @guarded
    async def commit_turn(self, end: TurnEnd, entry: JournalEntry | None = None) -> None:
        conversation = end.conversation
        await self._batch.call(
            self._commit,
            self._prefix,
            f"{end.channel_id}{SEP}{end.thread_id.lower()}",
            end.turn,
            end.message,
            end.reply,
            conversation.scenario if conversation else "",
            conversation.first_turn if conversation else 0,
            entry.to_json() if entry is not None else "",
            self.bounds.journal_size,
        )

    # the journal

    @guarded
    async def record(self, entry: JournalEntry) -> None:
        await self._batch.call(
            self._commit, self._prefix, "", 0, "", "", "", 0, entry.to_json(),
            self.bounds.journal_size,
        )  # fmt: skip

    @guarded
    async def journal(self) -> list[JournalEntry]:
        rows = await self._redis.xrange(self._journal)
        return [JournalEntry.from_json(fields[b"e"], int(fields[b"i"])) for _, fields in rows]

    @guarded
    async def clear_journal(self, channel_id: str | None = None) -> None:
        if channel_id is None:
            await self._redis.delete(self._journal)
            return
        rows = await self._redis.xrange(self._journal)
        gone = [
            stream_id
            for stream_id, fields in rows
            if json.loads(fields[b"e"])["channel"] == channel_id
        ]
        if gone:
            await self._redis.xdel(self._journal, *gone)
