"""A Script rendered for the wire, once: its writes, its invoke reply, its journaled events.

``/stream`` plays the writes (each ``(delay, bytes, events)``: the SSE bytes of the events due
together, ``sse`` framing them, or the exact writes a wire option asks for, ``wire.plan``);
``/invoke`` answers the reply's JSON; the journal keeps the events the stream sent, sized and
redacted. All of that depends on the Script alone (and the events' redaction on the keys), so
for a constant Script, shared by every request it answers, the service keeps one ``Rendered``
(``service.Emulator``'s owned caches) and no request encodes, joins or redacts the same events
again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from vivi_emulator.script import Script, ScriptEvent
from vivi_emulator.sse import frame
from vivi_emulator.wire.plan import plan

# (delay since the previous write, bytes, the events completed by this write, as journaled)
Write = tuple[float, bytes, list[dict[str, str]]]
# The journal's form of a stream's events: (the events kept, how many were left out).
KeptEvents = tuple[tuple[dict[str, str], ...], int]


def journal_events(events: Sequence[ScriptEvent]) -> list[dict[str, str]]:
    """The events as the journal shows them."""
    return [e.journaled() for e in events]


def _batches(script: Script) -> Iterator[Write]:
    """Each run of events due at the same time, joined into one write (the docs' framing)."""
    pending: list[ScriptEvent] = []
    for event in script.events:
        if event.delay > 0 and pending:
            yield _batch(pending)
            pending = []
        pending.append(event)
    if pending:
        yield _batch(pending)


def _batch(events: list[ScriptEvent]) -> Write:
    return events[0].delay, b"".join(frame(e) for e in events), journal_events(events)


def writes_of(script: Script) -> list[Write]:
    """The writes of a script without wire options: frames due together share one."""
    return list(_batches(script))


class Rendered:
    """A Script's writes (with how the stream ends), its invoke reply and its journaled events,
    each made once and kept for as long as this object lives."""

    __slots__ = ("_journaled", "_reply_json", "abort", "linger", "script", "timed", "writes")

    def __init__(self, script: Script) -> None:
        self.script = script
        if script.wire is None:
            self.writes, self.abort, self.linger = writes_of(script), script.abort, 0.0
        else:
            wired = plan(script)
            self.writes, self.abort, self.linger = wired.writes, wired.abort, wired.linger
        self.timed = self.linger > 0 or any(delay > 0 for delay, _, _ in self.writes)
        self._reply_json: bytes | None = None
        self._journaled: tuple[object, KeptEvents] | None = None

    def renders(self, script: Script) -> bool:
        """Whether this is ``script``'s rendering too: the same events, wire and ending (its
        headers, which the rendering does not hold, may differ)."""
        mine = self.script
        return mine is script or (
            mine.events is script.events and mine.wire is script.wire and mine.abort == script.abort
        )

    def invoke_body(self, thread_id: str) -> bytes:
        """``{"message": <reply>, "threadId": <thread>}`` as ``json.dumps`` writes it (the VIVI
        docs' form), the reply's JSON made once."""
        if self._reply_json is None:
            self._reply_json = b'{"message": ' + json.dumps(self.script.reply).encode("ascii")
        return self._reply_json + b', "threadId": ' + json.dumps(thread_id).encode() + b"}"

    def all_events(self) -> list[dict[str, str]]:
        return [event for _, _, events in self.writes for event in events]

    def kept_events(
        self, redactor: object, keep: Callable[[list[dict[str, str]]], KeptEvents]
    ) -> KeptEvents:
        """The journal's form of all the stream's events, made by ``keep`` once per
        ``redactor`` (journaling makes a new one whenever the keys change: a rotated key must
        be redacted from the events too)."""
        made = self._journaled
        if made is None or made[0] is not redactor:
            made = self._journaled = (redactor, keep(self.all_events()))
        return made[1]


@dataclass(slots=True)
class Played:
    """How a stream went: how many of its writes were sent, and whether the client left
    before its end."""

    rendered: Rendered
    sent: int = 0
    client_left: bool = False
    finished: bool = False
    first_byte: float | None = None  # time.monotonic() of the first write (the HAR's wait)

    @property
    def wire_bytes(self) -> list[bytes] | None:
        """The writes sent, when wire options shaped them (only there do they differ from the
        events' own frames: the HAR export's body); None otherwise."""
        if self.rendered.script.wire is None:
            return None
        return [data for _, data, _ in self.rendered.writes[: self.sent]]

    @property
    def complete(self) -> bool:
        return self.sent == len(self.rendered.writes)

    @property
    def sent_events(self) -> bool:
        """Whether any event reached the client (a write may carry none: a keep-alive)."""
        return any(events for _, _, events in self.rendered.writes[: self.sent])

    @property
    def events(self) -> list[dict[str, str]]:
        """The events sent, as the journal shows them."""
        return [event for _, _, events in self.rendered.writes[: self.sent] for event in events]
