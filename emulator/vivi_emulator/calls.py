"""The plain values the VIVI surface and the service hand each other.

A request is a ``Call`` carrying one ``Message`` (a batch, several); the service answers each
message with an ``Answer`` (or raises ``ScriptedStatus``), and the route notes what happened in
the request's ``Trace``, which the service turns into one journal entry (``journaling``). No HTTP
types: the service never sees a request model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from vivi_emulator.errors import StatusReply
from vivi_emulator.journal import ChosenBy, ItemRecord
from vivi_emulator.paths import API_KEY_HEADER
from vivi_emulator.ratelimits import Admission
from vivi_emulator.rendering import Played
from vivi_emulator.script import Script
from vivi_emulator.store.values import Conversation, TurnEnd


@dataclass(frozen=True, slots=True)
class Message:
    """One message to the agent, as the service sees it."""

    text: str
    thread_id: str
    user_id: str | None = None
    files: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Call:
    """A request to the VIVI surface: what the journal keeps of it."""

    method: str
    path: str
    channel: str
    headers: Mapping[str, str]  # lower-case names, as received (redacted when journaled)
    started: float  # the wall clock (time.time()), for the journal
    clock: float  # time.monotonic(), for its duration

    @property
    def api_key(self) -> str | None:
        return self.headers.get(API_KEY_HEADER)


@dataclass(frozen=True, slots=True)
class Answer:
    """The reply chosen for one message: what to render, and what the journal says of it."""

    message: Message
    turn: int
    scenario: str
    chosen_by: ChosenBy
    script: Script
    conversation: Conversation | None = None
    fault: str | None = None  # what chaos injected
    generation: int | None = None  # the channel's, when the turn opened: its writes carry it
    admission: Admission | None = None  # the rate-limit decision, when limits are on

    @property
    def item(self) -> ItemRecord:
        admission = self.admission
        return ItemRecord(
            self.message.thread_id,
            self.turn,
            self.scenario,
            self.chosen_by,
            fault=self.fault,
            limit=admission.note if admission is not None else None,
            slot=admission is not None and admission.slot,
        )

    @property
    def limit_headers(self) -> tuple[tuple[str, str], ...]:
        """The rate-limit headers its answer carries (a batch: its last item's)."""
        return self.admission.headers if self.admission is not None else ()


class ScriptedStatus(StatusReply):
    """A scenario's status reply (429, 500, ...), with the item the journal records."""

    def __init__(self, reply: StatusReply, item: ItemRecord) -> None:
        super().__init__(reply.status_code, reply.body(), reply.headers)
        self.item = item
        # The message's turn, to give back with the request's journal entry in one store step
        # (``exchange.Exchange`` takes it; None: given back already).
        self.returned: TurnEnd | None = None


@dataclass(slots=True)
class Trace:
    """What happened to one request so far (request-local); the service's ``finish`` makes it
    the request's journal entry."""

    call: Call
    items: list[ItemRecord]
    body: bytes | str | None = None
    stream: Played | None = None  # a stream's answer: what of it was sent
    status: int = 0
    error: str | None = None
    client_left: bool = False
