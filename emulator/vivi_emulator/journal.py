"""The journal's entries: one per request to the VIVI surface, written once, when its answer is
finished, and never changed after.

An entry holds no secret and has a bounded size: ``journaling`` makes it so, from the request's
``Trace``, before the entry exists.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple, NoReturn

# Bodies nested deeper than this are kept as text: they would cost a reader's parser dearly.
MAX_JSON_DEPTH = 32


class ChosenBy(StrEnum):
    """How a request's scenario was chosen."""

    QUEUE = "queue"
    HEADER = "header"
    FORCED = "forced"
    CONVERSATION = "conversation"  # the thread is in a scenario with turns (service.Emulator)
    MATCH = "match"
    DEFAULT = "default"
    CHAOS = "chaos"  # a fault injected at a rate (chaos.py); ``ItemRecord.fault`` says which

    @property
    def named(self) -> bool:
        """Chosen by name, as a test asks for an answer: chaos leaves these alone."""
        return self in (ChosenBy.QUEUE, ChosenBy.HEADER, ChosenBy.FORCED)


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """One message of a request (a batch has several): its thread and how it was answered."""

    thread: str
    turn: int | None = None
    scenario: str | None = None
    chosen_by: ChosenBy | None = None
    status: int = 200
    error: str | None = None
    fault: str | None = None  # what chaos injected: "status 429", "disconnect after 3 events"
    limit: str | None = None  # the rate-limit decision (ratelimits.py), when limits are on
    slot: bool = False  # it holds a stream slot until its request is finished


class FrozenEvent(dict[str, str]):
    """A journaled event, which nothing may change: the entries of a constant script share
    one tuple of them (made once per script and key snapshot, ``rendering.Rendered``), so a
    reader changing one would change every entry's. A ``dict`` still, for JSON and readers."""

    __slots__ = ()

    def _frozen(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("a journaled event cannot be changed")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _frozen

    def __reduce__(self) -> tuple[type[FrozenEvent], tuple[dict[str, str]]]:
        # copy and pickle rebuild it whole (the default would set its items one by one)
        return FrozenEvent, (dict(self),)


class JournalEntry(NamedTuple):
    """One finished request, as kept. Immutable, and a named tuple rather than a frozen
    dataclass: one is made on every request, and a frozen dataclass sets each of its 18 fields
    through ``object.__setattr__`` (measured, benchmarks/journal_share.py: a named tuple costs
    a fifth of that)."""

    # Given by the store when the entry is kept (0 before): the journal's order, across
    # processes on a shared store.
    id: int
    time: float  # seconds since the epoch; ISO 8601 when read
    method: str
    path: str
    channel: str
    headers: tuple[tuple[str, str], ...]  # redacted
    status: int
    body: str | None = None  # redacted, perhaps cut
    body_truncated: bool = False
    items: tuple[ItemRecord, ...] = ()
    events: tuple[dict[str, str], ...] | None = None  # stream: the events sent
    events_left_out: int = 0
    error: str | None = None
    client_left: bool = False
    duration_ms: float = 0.0
    # A stream: the time from the request's arrival to its first event's bytes; with wire
    # options, the exact text sent (redacted, perhaps cut: the HAR export's body; any other
    # stream's text is its events' frames, journaling.frames_text).
    text: str | None = None
    text_truncated: bool = False
    first_byte_ms: float | None = None

    # --- reading ---------------------------------------------------------------------------------

    def threads(self) -> list[str]:
        return [item.thread.lower() for item in self.items]

    @property
    def operation(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def as_dict(self) -> dict[str, Any]:
        """The entry as the control API shows it (JSON-ready)."""
        single = self.items[0] if len(self.items) == 1 else None
        data: dict[str, Any] = {
            "id": self.id,
            "time": datetime.fromtimestamp(self.time, UTC).isoformat(timespec="milliseconds"),
            "method": self.method,
            "path": self.path,
            "channel": self.channel,
            "headers": dict(self.headers),
            "status": self.status,
            "body": _shown_body(self.body, self.body_truncated),
            "thread": single.thread if single else None,
            "turn": single.turn if single else None,
            "scenario": single.scenario if single else None,
            "chosen_by": str(single.chosen_by) if single and single.chosen_by else None,
            "fault": single.fault if single else None,
            "limit": single.limit if single else None,
            "events": list(self.events) if self.events is not None else None,
            "error": self.error,
            "client_left": self.client_left,
            "duration_ms": round(self.duration_ms, 1),
        }
        if self.events_left_out:
            data["events"].append({"truncated": f"{self.events_left_out} more events not kept"})
        if len(self.items) > 1 or self.operation == "batch":
            data["items"] = [_item_dict(i) for i in self.items]
        return data

    # --- keeping (a shared store keeps entries as JSON) -----------------------------------------

    def to_json(self) -> str:
        # By hand: dataclasses.asdict deep-copies every value, a measured share of a request
        # on the shared store.
        data: dict[str, Any] = dict(zip(_ENTRY_FIELDS, self[1:], strict=True))
        data["items"] = [
            (i.thread, i.turn, i.scenario, i.chosen_by, i.status, i.error, i.fault, i.limit)
            for i in self.items
        ]
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes, entry_id: int) -> JournalEntry:
        data = json.loads(text)
        data["id"] = entry_id
        data["headers"] = tuple(tuple(h) for h in data["headers"])
        data["items"] = tuple(
            ItemRecord(
                thread, turn, scenario, ChosenBy(chosen) if chosen else None, status, error, *rest
            )
            # ``rest``: the fault and the limit, absent from entries kept before they existed
            for thread, turn, scenario, chosen, status, error, *rest in data["items"]
        )
        if data["events"] is not None:
            data["events"] = tuple(data["events"])
        return cls(**data)


_ENTRY_FIELDS = JournalEntry._fields[1:]  # all but the id, which the store gives


def _item_dict(item: ItemRecord) -> dict[str, Any]:
    data = asdict(item)
    del data["slot"]  # the service's bookkeeping, not what happened
    data["chosen_by"] = str(item.chosen_by) if item.chosen_by else None
    return data


def _depth(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _shown_body(body: str | None, truncated: bool) -> Any:
    """The body as JSON when it is a whole, reasonably shaped JSON text; else as text."""
    if body is None or truncated or _depth(body) > MAX_JSON_DEPTH:
        return body
    try:
        return json.loads(body)
    except ValueError:
        return body
