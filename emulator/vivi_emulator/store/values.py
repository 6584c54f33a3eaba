"""The values the state store keeps and answers with: a thread's turns and conversation, the
shared view a request reads, per-scope overrides, queued replies and files.

Plain, immutable values: a backend builds them from what it holds (in memory, or parsed from
Redis), and the service reads them; only the store changes state (``store.base.StateStore``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from vivi_emulator.chaos import ChaosSettings
from vivi_emulator.ratelimit_rules import RateLimits
from vivi_emulator.scenarios.latency import LatencyProfile
from vivi_emulator.structured import StructuredOutput

if TYPE_CHECKING:
    from vivi_emulator.scenarios.model import Scenario


@dataclass(frozen=True, slots=True)
class Turn:
    """One exchange of a thread: what the user said and what the agent answered."""

    message: str
    reply: str


@dataclass(slots=True)  # made on every request: no frozen-dataclass __init__ cost
class TurnEnd:
    """A turn to settle (``commit_turn``): its thread and number, the exchange (what the user
    said, what the agent answered), and the thread's conversation from now on (``KEEP``: as
    it is; only for a turn given back); or, not ``kept``, a turn to give back (its exchange is
    not used)."""

    channel_id: str
    thread_id: str
    turn: int
    message: str
    reply: str
    conversation: Conversation | Keep | None
    # The channel's generation the request started in: kept only while it lasts (None: any).
    generation: int | None = None
    kept: bool = True


@dataclass(frozen=True, slots=True)
class Conversation:
    """The scenario a thread is in (one with ``turns``), and the thread's turn that answers its
    first step: turn ``t`` answers step ``t - first_turn + 1``. The service moves it when a
    message outside the conversation (a named scenario) opens a turn, or when a step answers
    with a status (which gives its turn back), so that the steps go on where they were."""

    scenario: str
    first_turn: int


class Keep(Enum):
    """Leave the thread's conversation as it is (``cancel_turn``)."""

    KEEP = "keep"


KEEP = Keep.KEEP


class Overrides(BaseModel):
    """Settings changed at run time for a scope (a channel, or everything): what every request
    of the scope gets until reset. A channel's value wins over the global one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    forced: str | None = None
    # Faults at a rate (chaos.ChaosSettings); one without faults turns configured chaos off.
    chaos: ChaosSettings | None = None
    latency: LatencyProfile | None = None
    # Rate limits and structured output (gate.py); one without limits / schema turns them off.
    rate_limits: RateLimits | None = None
    structured: StructuredOutput | None = None

    def over(self, base: Overrides) -> Overrides:
        """These overrides on top of ``base``: a field set here wins."""
        mine = {
            name: value
            for name in Overrides.model_fields
            if (value := getattr(self, name)) is not None
        }
        return base.model_copy(update=mine) if mine else base

    @staticmethod
    def field_json(name: str, value: object) -> str | None:
        """One field's value as a shared store keeps it (JSON; None: not set)."""
        if value is None:
            return None
        if isinstance(value, BaseModel):
            return value.model_dump_json(exclude_none=True)
        return json.dumps(value)

    @classmethod
    def of_fields(cls, fields: Mapping[str, str | bytes]) -> Overrides:
        """Overrides from the fields a shared store keeps, each set on its own."""
        return cls.model_validate({name: json.loads(raw) for name, raw in fields.items()})


NO_OVERRIDES = Overrides()
OVERRIDE_FIELDS = frozenset(Overrides.model_fields)


@dataclass(frozen=True, slots=True)
class View:
    """The shared state a message needs, read in the same step that opens its turn."""

    # Versions: a process keeps copies of the keys and the scenarios, and refreshes a copy
    # when the store's version moved (another process rotated a key or reloaded fixtures).
    keys_version: int = 0
    scenarios_version: int = 0
    overrides: Overrides = NO_OVERRIDES
    # Queued replies waiting for this channel, and for any channel.
    queued: int = 0
    # The channel's generation when the turn opened: the request's writes carry it.
    generation: int = 0
    # The queued replies, the channel's first, when the store read them in the same step
    # (None: ask the store), perhaps with some claimed since (a claim is the truth).
    replies: tuple[QueuedReply, ...] | None = None


@dataclass(frozen=True, slots=True)
class TurnStart:
    turn: int  # 1-based, allocated atomically: two concurrent messages get two turns
    previous: Turn | None
    conversation: Conversation | None
    view: View
    # How many messages the thread has received, this one included; never given back (a turn
    # is): what chaos draws from, so that a retried request is drawn again.
    attempt: int = 0


# --- the queue and files ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueuedReply:
    id: str
    scenario: Scenario
    channel: str | None = None  # None: any channel may consume it


@dataclass(frozen=True, slots=True)
class NewFile:
    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class StoredFile:
    channel_id: str
    name: str
    content_type: str
    data: bytes
