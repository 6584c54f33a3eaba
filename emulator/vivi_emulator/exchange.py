"""One request to the VIVI surface as the service sees it: its turns and its one journal entry.

``Emulator.exchange(call)`` opens it. A route hands it each message (``answer``, which opens the
message's turn and returns a ``TurnLease``), reports what the wire did (``report``: the status,
the events sent, whether the client left), and closes it; the service decides what becomes of
each turn and writes the request's journal entry. Routes never keep or give back a turn.

The turn's rule (docs/decisions.md, "A turn's lease"): a turn is **kept** once its answer was
delivered (a stream that sent its first event or played to its end; an invoke's or a batch
item's reply ready while the client was still there; a broken reply or an intermediary's
timeout, which the client is answered with); otherwise (the client left first, an error, a
cancellation, the store failing) it is **given back**. A lease is settled exactly once: at the
end of its ``async with`` (a batch item: the next item of the thread sees it), or, for one that
outlives its handler (a stream) or has no block (an invoke), when the exchange closes, in one
store step with the journal entry.
"""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING

import anyio

from vivi_emulator.calls import Answer, Call, Message, ScriptedStatus, Trace
from vivi_emulator.errors import ApiError
from vivi_emulator.journal import JournalEntry
from vivi_emulator.rendering import Played
from vivi_emulator.store.base import KeysMoved
from vivi_emulator.store.keys import KeyRing
from vivi_emulator.store.values import TurnEnd

if TYPE_CHECKING:
    from vivi_emulator.service import Emulator
    from vivi_emulator.store.base import StateStore

_UNSHIELDED = contextlib.nullcontext()


def _shield(store: StateStore) -> AbstractContextManager[object]:
    """A cancel scope shielding a request's settling, on a store whose steps may wait; none on
    one whose steps never wait (``StateStore.waits``): nothing can interrupt them there, and
    anyio's scope was 8 % of an /invoke's instructions in process (each request is a new task,
    whose anyio task state is made anew)."""
    return anyio.CancelScope(shield=True) if store.waits else _UNSHIELDED


class TurnLease:
    """A message's open turn and its answer, settled exactly once (see the module)."""

    __slots__ = ("_delivered", "_exchange", "_settled", "answer")

    def __init__(self, exchange: Exchange, answer: Answer) -> None:
        self.answer = answer
        self._exchange = exchange
        self._delivered = False
        self._settled = False

    def delivered(self) -> None:
        """The wire's report: this answer (or its first event) reached the client."""
        self._delivered = True

    @property
    def kept(self) -> bool:
        """What settling does (or did): keep the turn, or give it back."""
        return self._delivered

    async def __aenter__(self) -> Answer:
        return self.answer

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._exchange.settle(self)


class Exchange:
    """One request: its trace (what the journal will say), its open leases, its entry."""

    __slots__ = ("_checked", "_closed", "_emulator", "_open", "_returned", "trace")

    def __init__(self, emulator: Emulator, call: Call) -> None:
        self.trace = Trace(call, [])
        self._emulator = emulator
        self._open: list[TurnLease] = []
        # Turns of status answers, given back when the exchange closes (with its entry).
        self._returned: list[TurnEnd] = []
        self._closed = False
        # The keys the request's key passed against (None before: an entry of a request
        # refused before that is kept whatever happens to the channel).
        self._checked: KeyRing | None = None

    @property
    def call(self) -> Call:
        return self.trace.call

    @property
    def generation(self) -> int | None:
        """The request's channel generation, once its key passed (``Emulator.generation``)."""
        return self._emulator.generation(self.trace.call.channel, self._checked)

    async def check_key(self, *, now: bool = False) -> None:
        """The request's key check (``now``: against the store's current keys); from then on
        the request belongs to its channel's current generation."""
        call, emulator = self.trace.call, self._emulator
        check = emulator.check_key_now if now else emulator.check_key
        self._checked = await check(call.channel, call.api_key)

    async def answer(self, message: Message) -> TurnLease:
        """Open the message's turn and answer it (``Emulator.answer``); a status reply raises
        ``ScriptedStatus``, its turn given back when the exchange closes."""
        try:
            answer = await self._emulator.answer(self.trace.call, message, self._checked)
        except ScriptedStatus as status:
            if status.returned is not None:
                self._returned.append(status.returned)
                status.returned = None
            raise
        self.trace.items.append(answer.item)
        lease = TurnLease(self, answer)
        self._open.append(lease)
        return lease

    def report(
        self,
        status: int,
        stream: Played | None = None,
        *,
        client_left: bool = False,
    ) -> None:
        """What the wire did: the status written, what of a stream was sent, whether the
        client left."""
        trace = self.trace
        trace.status = status
        if stream is not None:
            trace.stream = stream
        trace.client_left = client_left

    async def settle(self, lease: TurnLease) -> None:
        """Keep or give back the lease's turn, once (shielded where the store's steps may wait:
        a cancelled request settles too)."""
        if lease._settled:
            return
        with _shield(self._emulator.store):
            await self._settle(lease, None)

    async def _settle(
        self, lease: TurnLease, entry: JournalEntry | None, as_of: KeyRing | None = None
    ) -> None:
        """Settle ``lease`` (the caller shields it: one cancel scope per request, measured: a
        tenth of a request's time when each settling opened its own); with ``as_of``, only
        while the store's keys are those (else ``KeysMoved``, the lease still open)."""
        if lease._settled:
            return
        lease._settled = True
        self._open.remove(lease)
        emulator = self._emulator
        call = self.trace.call
        try:
            if not lease.kept:
                # With the entry: one all-or-nothing store step, as a kept turn's.
                await emulator.give_back(call, lease.answer, entry, as_of)
            else:
                await emulator.keep(call, lease.answer, entry, as_of)
        except KeysMoved:
            lease._settled = False  # nothing was done: settled again by the next close
            self._open.insert(0, lease)
            raise
        except BaseException:
            if not lease.kept:
                raise
            # Not kept (the store failed): the client is answered with that error, so
            # the turn goes back if the store lets it.
            with contextlib.suppress(ApiError):
                await emulator.give_back(call, lease.answer)
            raise

    async def close(self, as_of: KeyRing | None = None) -> None:
        """Settle every open lease and write the request's journal entry, once; the last
        lease is settled in the same store step as the entry. If the store fails, the error
        is raised and the exchange stays open for ``fail`` to record it. With ``as_of``, that
        last step is done only while the store's keys are those (else ``KeysMoved``)."""
        if self._closed:
            return
        emulator, trace = self._emulator, self.trace
        with _shield(emulator.store):
            # The request's rate-limit slots go back whatever happens (gate.py), started now:
            # on Redis their step rides in the same pipeline as the settling one.
            freeing = None
            if any(item.slot for item in trace.items):
                freeing = asyncio.ensure_future(
                    emulator.gate.release(trace.call.channel, trace.items)
                )
            try:
                while len(self._open) > 1 or (self._open and self._returned):
                    await self._settle(self._open[0], None)
                while len(self._returned) > 1:
                    await self._give_back(self._returned[0], None)
                entry = emulator.journaling.entry(trace, emulator.store.cached_keys())
                if self._open:
                    await self._settle(self._open[0], entry, as_of)
                elif self._returned:
                    await self._give_back(self._returned[0], entry)
                else:
                    await emulator.store.record(entry, self.generation, as_of)
                self._closed = True
            finally:
                if freeing is not None:
                    await freeing

    async def _give_back(self, end: TurnEnd, entry: JournalEntry | None) -> None:
        """Give back a status answer's turn, with ``entry`` in the same store step; if the store
        fails that, the turn alone if it lets us (the error is raised: ``fail`` records it)."""
        store = self._emulator.store
        try:
            await store.commit_turn(end, entry)
        except BaseException:
            if entry is not None:
                with contextlib.suppress(ApiError):
                    await store.commit_turn(end)
                    self._returned.remove(end)
            raise
        self._returned.remove(end)

    async def fail(self, error: ApiError) -> ApiError:
        """Close with an error; return the error to answer. An error other than the key's own
        is answered only if the key still passes against the store's current keys: a key
        rotated by another process is refused as such, not with some later error. That costs
        no round trip of its own: the step that writes the entry does it only while the
        store's keys are the ones the key passed against (``as_of``), and when they moved the
        key is checked again and the entry written then. A status answer's key is as current
        as its turn's opening step (``Emulator.answer`` checks it again when the keys moved)."""
        as_of = None
        if error.status_code not in (401, 403, 404) and not isinstance(error, ScriptedStatus):
            if self._checked is None:
                error = await self._key_error(error)
            else:
                as_of = self._checked
        if isinstance(error, ScriptedStatus):
            self.trace.items.append(error.item)
        self.trace.status, self.trace.error = error.status_code, error.detail
        try:
            await self.close(as_of)
        except KeysMoved:
            error = await self._key_error(error)
            self.trace.status, self.trace.error = error.status_code, error.detail
            await self.close()
        return error

    async def _key_error(self, error: ApiError) -> ApiError:
        """The key's own error if it no longer passes against the store's current keys, else
        ``error``."""
        try:
            await self._emulator.check_key_now(self.trace.call.channel, self.call.api_key)
        except ApiError as key_error:
            return key_error
        return error

    async def left(self) -> None:
        """Close for a client that hung up before its answer was ready."""
        self.trace.client_left = True
        self.trace.error = "the client hung up before its answer was ready"
        await self.close()

    async def abandon(self) -> None:
        """Close for a request that ended otherwise (cancelled: the server stops): its turns
        go back, and the journal says so if the store still answers."""
        if self._closed:
            return
        if not self.trace.error:
            self.trace.error = "the request ended before its answer (cancelled)"
        with contextlib.suppress(ApiError):
            await self.close()
