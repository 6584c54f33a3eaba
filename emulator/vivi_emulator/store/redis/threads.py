"""The Redis store's threads and journal. A thread is a hash with a TTL (its idle time), ranked
in a sorted set by last use (the least recently used go past ``max_threads``); the journal is a
capped stream. Opening a turn and settling it (kept or given back, with the request's entry: all
or nothing) are one Lua step each, batched with the other requests' (``batch``): the hot path.
Each checks the channel's generation: a request of a deleted channel opens no turn and writes
nothing."""

from __future__ import annotations

from typing import Any

from vivi_emulator.journal import JournalEntry
from vivi_emulator.store.base import ChannelGone, KeysMoved
from vivi_emulator.store.keys import KeyRing
from vivi_emulator.store.redis.client import SEP, RedisPart, guarded
from vivi_emulator.store.redis.copies import scope_of
from vivi_emulator.store.values import KEEP, Conversation, Keep, Turn, TurnEnd, TurnStart, View

_GONE, _NOT_SEEDED, _KEYS_MOVED = -1, -2, -3


def _text(value: bytes | None) -> str | None:
    return value.decode("utf-8") if value is not None else None


def _generation(generation: int | None) -> int | str:
    return "" if generation is None else generation


class RedisThreads(RedisPart):
    @guarded
    async def begin_turn(
        self, channel_id: str, thread_id: str, generation: int | None = None
    ) -> TurnStart:
        thread = thread_id.lower()
        reply = await self._begin_step(channel_id, thread, generation)
        if reply[0] == _NOT_SEEDED:
            # A Redis new to this process (restarted empty, replaced): the configured channels
            # first, then the request, in the generation its channel has there.
            ring = await self.client.seed_now()
            if generation is not None:
                generation = ring.generation(channel_id)
            reply = await self._begin_step(channel_id, thread, generation)
        if reply[0] in (_GONE, _NOT_SEEDED):
            raise ChannelGone(channel_id)
        (
            turn,
            message,
            reply_text,
            scenario,
            first,
            keys_v,
            scen_v,
            qg,
            qc,
            og,
            oc,
            attempt,
            gen,
        ) = reply
        overrides = self.client.parse_overrides(oc).over(self.client.parse_overrides(og))
        queued = int(qg[0]) + int(qc[0])
        replies = None
        if queued:
            copies = self.client.queue_copies
            mine, anyone = copies.read(scope_of(channel_id), qc), copies.read("", qg)
            if mine is not None and anyone is not None:
                replies = mine + anyone
        view = View(int(keys_v or 0), int(scen_v or 0), overrides, queued, int(gen or 0), replies)
        previous = (
            Turn(_text(message) or "", _text(reply_text) or "") if message is not None else None
        )
        conversation = Conversation(scenario.decode(), int(first)) if scenario is not None else None
        return TurnStart(int(turn), previous, conversation, view, int(attempt))

    async def _begin_step(self, channel_id: str, thread: str, generation: int | None) -> Any:
        async def give_back(reply: Any) -> None:
            # The caller was cancelled while this step was in flight: it never learns its
            # turn, so nobody else would give it back.
            if int(reply[0]) > 0:
                end = TurnEnd(channel_id, thread, int(reply[0]), "", "", None, kept=False)
                await self.client.scripts.settle(keys=[], args=self._settle(end, KEEP))

        return await self.client.batch.call(
            self.client.scripts.begin,
            self.client.prefix,
            channel_id,
            thread,
            self.client.idle_ms,
            self.client.bounds.max_threads,
            self.client.epoch,
            _generation(generation),
            self.client.queue_copies.tail(""),
            self.client.queue_copies.tail(scope_of(channel_id)),
            undo=give_back,
        )

    @guarded
    async def cancel_turn(
        self,
        channel_id: str,
        thread_id: str,
        turn: int,
        conversation: Conversation | Keep | None = KEEP,
        generation: int | None = None,
    ) -> None:
        end = TurnEnd(channel_id, thread_id, turn, "", "", None, generation, kept=False)
        await self.client.batch.call(self.client.scripts.settle, *self._settle(end, conversation))

    @guarded
    async def commit_turn(
        self, end: TurnEnd, entry: JournalEntry | None = None, as_of: KeyRing | None = None
    ) -> None:
        args = self._settle(end, end.conversation, entry, as_of)
        if await self.client.batch.call(self.client.scripts.settle, *args) == _KEYS_MOVED:
            raise KeysMoved()

    def _settle(
        self,
        end: TurnEnd,
        conversation: Conversation | Keep | None,
        entry: JournalEntry | None = None,
        as_of: KeyRing | None = None,
    ) -> list[Any]:
        """The ``settle`` step's arguments (lua/settle.lua): keep or give back ``end``'s turn
        (none: no thread id), set the thread's conversation, record ``entry``; only while the
        keys are those of ``as_of``."""
        if conversation is KEEP:
            talk: list[Any] = ["keep", "", 0]
        elif conversation is None:
            talk = ["clear", "", 0]
        else:
            talk = ["set", conversation.scenario, conversation.first_turn]
        member = f"{end.channel_id}{SEP}{end.thread_id.lower()}" if end.thread_id else ""
        return [
            self.client.prefix, member, end.turn, "keep" if end.kept else "back", end.message,
            end.reply, *talk, entry.to_json() if entry is not None else "",
            self.client.bounds.journal_size, end.channel_id, _generation(end.generation),
            f"{as_of.epoch} {as_of.version}" if as_of is not None else "",
        ]  # fmt: skip

    # the journal

    async def record(
        self, entry: JournalEntry, generation: int | None = None, as_of: KeyRing | None = None
    ) -> None:
        end = TurnEnd(entry.channel, "", 0, "", "", KEEP, generation, kept=False)
        await self.commit_turn(end, entry, as_of)

    @guarded
    async def journal(self) -> list[JournalEntry]:
        rows = await self.client.redis.xrange(self.client.journal_key)
        return [JournalEntry.from_json(fields[b"e"], int(fields[b"i"])) for _, fields in rows]

    @guarded
    async def clear_journal(self, channel_id: str | None = None) -> None:
        if channel_id is None:
            await self.client.redis.delete(self.client.journal_key)
            return
        await self.client.scripts.channel(
            keys=[], args=[self.client.prefix, "clear_journal", "", channel_id]
        )
