"""Journaling a request: its ``Trace`` made into its one journal entry, at the end.

An entry holds no secret: credential headers are replaced by a marker, and every key ever used
here (and the admin token) is removed from the body, the headers, the events and the error. It
has a bounded size: a large body or a long event list is cut, with a marker saying how much was
left out, so one request can never fill the journal's memory. Bounds (README, "Bounds"): a
header value is cut at ``HEADER_VALUE_BYTES``, at most ``MAX_HEADERS`` headers are kept, and the
body and the events share ``limits.journal_entry_bytes`` (a third and two thirds); the exact
text of a stream with wire options (for the HAR export) is cut at the events' share too.

The finished entry is also what the process's metrics count (``metrics.finished``) and what an
OTLP span is made of (``tracing.finished``): one place sees every request once.

Making an entry is on every request's path, so it is cheap to write: the redactor is made once
per snapshot of the keys, a constant script's events are sized and redacted once per redactor
(``rendering.Rendered``) and shared, immutable (``journal.FrozenEvent``), by its entries, and the
headers are searched for secrets in one text (``journaled_headers``). Redaction stays at write:
an entry never holds a secret, in memory or in Redis, whoever reads it later.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from vivi_emulator import metrics, tracing
from vivi_emulator.calls import Trace
from vivi_emulator.journal import FrozenEvent, JournalEntry
from vivi_emulator.redaction import CREDENTIAL_HEADERS, REDACTED, Redactor
from vivi_emulator.rendering import KeptEvents, Played
from vivi_emulator.sse import encode_event
from vivi_emulator.store.keys import KeyRing

HEADER_VALUE_BYTES = 1024
MAX_HEADERS = 64

_Headers = tuple[tuple[str, str], ...]


class Journaling:
    """Makes journal entries; keeps the redactor of the current keys (and what it made once)."""

    def __init__(self, entry_bytes: int, admin_token: str | None = None) -> None:
        self.entry_bytes = entry_bytes
        self._admin_token = admin_token
        # The redactor of the current snapshot of the keys, and the events' journaler made
        # with it (a constant script's events are journaled once per redactor: rendering).
        self._redactors: tuple[KeyRing, Redactor, _Keep] | None = None

    def redactor(self, ring: KeyRing) -> Redactor:
        """Removes every key used here (the store keeps the most recent ``redacted_keys``,
        deleted channels' included) and the admin token from journaled text: one redactor per
        snapshot of the keys (a new snapshot is made only when the keys change)."""
        made = self._redactors
        return (made if made is not None and made[0] is ring else self._made(ring))[1]

    def _made(self, ring: KeyRing) -> tuple[KeyRing, Redactor, _Keep]:
        redactor = Redactor(ring.ever)
        if self._admin_token is not None:
            redactor.add(self._admin_token)
        limit = self._events_bytes

        def keep(events: list[dict[str, str]]) -> KeptEvents:
            return kept_events(events, redactor, limit)

        made = self._redactors = (ring, redactor, keep)
        return made

    def entry(self, trace: Trace, ring: KeyRing) -> JournalEntry:
        """The immutable journal entry of a finished request: redacted, and size-bounded."""
        made = self._redactors
        _, redact, keep = made if made is not None and made[0] is ring else self._made(ring)
        call = trace.call
        body, body_cut = body_text(trace.body, redact, self.entry_bytes // 3)
        played = trace.stream
        events, left_out, text, text_cut, first_byte = (
            _NO_STREAM if played is None else self._stream(played, redact, keep, call.clock)
        )
        # Positional, in the fields' order (journal.JournalEntry): binding 18 keywords costs
        # more than the tuple itself, and this is on every request's path.
        entry = JournalEntry(
            0,
            call.started,
            call.method,
            call.path,
            call.channel,
            journaled_headers(call.headers, redact),
            trace.status,
            body,
            body_cut,
            tuple(trace.items),
            events,
            left_out,
            redact.text(trace.error) if trace.error else None,
            trace.client_left,
            (time.monotonic() - call.clock) * 1000,
            text,
            text_cut,
            first_byte,
        )
        metrics.finished(entry)
        tracing.finished(entry)
        return entry

    def _stream(self, played: Played, redact: Redactor, keep: _Keep, clock: float) -> _Stream:
        """A stream's fields of its entry: its events as journaled (a whole stream's from its
        rendering, made once per script and redactor; a cut one's from the events it sent),
        how many were left out, its text and whether it was cut, its first byte's time."""
        rendered = played.rendered
        if played.sent == len(rendered.writes):  # complete (``Played.complete``, inlined)
            events, left_out = rendered.kept_events(redact, keep)
        else:
            events, left_out = kept_events(played.events, redact, self._events_bytes)
        first = None if played.first_byte is None else (played.first_byte - clock) * 1000
        # Only a stream whose writes wire options shaped keeps its text: any other's is its
        # events' own frames, which the HAR export writes from the events (``frames_text``).
        wire_bytes = None if rendered.script.wire is None else played.wire_bytes
        if wire_bytes is None:
            return events, left_out, None, False, first
        text, text_cut = stream_text(wire_bytes, events, redact, self._events_bytes)
        return events, left_out, text, text_cut, first

    @property
    def _events_bytes(self) -> int:
        """The events' (and a stream's text's) share of an entry: two thirds."""
        return self.entry_bytes - self.entry_bytes // 3


_Keep = Callable[[list[dict[str, str]]], KeptEvents]
# A stream's fields of an entry: events, events left out, text, text cut, first byte (ms).
_Stream = tuple[tuple[dict[str, str], ...] | None, int, str | None, bool, float | None]
_NO_STREAM: _Stream = (None, 0, None, False, None)


def journaled_headers(headers: Mapping[str, str], redact: Redactor) -> _Headers:
    """The request's headers as journaled (``kept_headers``), made cheaply for the common
    request: credential headers are found by name, and every other value is searched for a
    secret at once, in one text of them all; only when a value is long, or a secret is found
    (or there are too many headers), is each value cut and redacted on its own.

    Clients send values new on every request (``traceparent``, ``x-request-id``): no cache of
    values or of header sets would hit, and none is needed.
    """
    if len(headers) > MAX_HEADERS:
        return kept_headers(headers.items(), redact)
    shown = dict(headers)
    # A loop over the few names, not a set made per request, and the forms searched in a plain
    # loop, not ``any()``: instructions counted, those two were a third of the headers' cost.
    for name in _CREDENTIALS:
        if name in shown:
            shown[name] = REDACTED
    text = "\n".join(shown.values())  # a secret in one value is in this text
    if len(text) > _SHORT_VALUE and max(map(len, shown.values())) > _SHORT_VALUE:
        return kept_headers(headers.items(), redact)
    for form in redact.forms:
        if form in text:
            return kept_headers(headers.items(), redact)
    return tuple(shown.items())


_CREDENTIALS = tuple(CREDENTIAL_HEADERS)


def cut(text: str, limit: int) -> tuple[str, bool]:
    """``text`` within ``limit`` bytes of UTF-8, with a marker saying what was left out."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text, False
    kept = data[:limit].decode("utf-8", "ignore")
    return f"{kept}…[truncated: {len(data) - limit} more bytes]", True


def body_text(raw: bytes | str | None, redact: Redactor, limit: int) -> tuple[str | None, bool]:
    """The body as text within ``limit`` bytes, secrets removed, and whether it was cut."""
    if raw is None:
        return None, False
    if isinstance(raw, bytes):
        raw = (
            raw[: limit + 4].decode("utf-8", "replace")
            if len(raw) > limit
            else raw.decode("utf-8", "replace")
        )
    if len(raw) > limit // 4:  # else within the limit however it is encoded
        text, truncated = cut(raw, limit)
        return redact.text(text), truncated
    return redact.text(raw), False  # without secrets, the text as it is


# A value of at most this many characters is within ``HEADER_VALUE_BYTES`` of UTF-8 (a
# character is at most 4 bytes): it is never cut.
_SHORT_VALUE = HEADER_VALUE_BYTES // 4


def _kept_value(value: str, redact: Redactor) -> str:
    """A header value as journaled: bounded, secrets removed."""
    if len(value) > _SHORT_VALUE:
        value, _ = cut(value, HEADER_VALUE_BYTES)
    return redact.text(value) if redact else value


def kept_headers(raw: Iterable[tuple[str, str]], redact: Redactor) -> tuple[tuple[str, str], ...]:
    """The request's headers (lower-case names), credentials redacted, values bounded."""
    kept = []
    for name, value in raw:
        kept.append((name, REDACTED if name in CREDENTIAL_HEADERS else _kept_value(value, redact)))
        if len(kept) == MAX_HEADERS:
            break
    return tuple(kept)


def kept_events(
    events: Sequence[dict[str, str]], redact: Redactor, limit: int
) -> tuple[tuple[dict[str, str], ...], int]:
    """The events within ``limit`` bytes of text, redacted, and how many were left out. Each is
    a ``FrozenEvent``: a constant script's are shared by all its entries."""
    kept: list[dict[str, str]] = []
    budget = limit
    for index, event in enumerate(events):
        size = sum(len(v) for v in event.values()) + 32
        if size > budget:
            left_out = len(events) - index
            break
        budget -= size
        kept.append(event)
    else:
        left_out = 0
    if not redact:
        return tuple(map(FrozenEvent, kept)), left_out
    # The messages as one text: a key echoed back is cut into several chunks.
    messages = redact.parts([e.get("message", "") for e in kept])
    return tuple(
        FrozenEvent({k: (message if k == "message" else redact.text(v)) for k, v in event.items()})
        for event, message in zip(kept, messages, strict=True)
    ), left_out


def frames_text(events: Iterable[dict[str, str]]) -> str:
    """The text of journaled events as the stream sent them: a raw frame as it is, any other
    in VIVI's framing (``sse.frame`` writes exactly these bytes)."""
    return "".join(
        e["raw"] if "raw" in e else encode_event(e["message"], e["event"]).decode("ascii")
        for e in events
    )


def stream_text(
    sent: Sequence[bytes], events: Sequence[dict[str, str]], redact: Redactor, limit: int
) -> tuple[str, bool]:
    """The exact text a stream with wire options sent, within ``limit`` bytes, secrets removed.

    A key cut over several events is found in the events' messages read as one text
    (``kept_events``) but not in the frames, where framing separates its parts: when the
    messages hold more markers than the text, the text is the kept events framed again (with
    the markers), not the frames as sent.
    """
    text, truncated = cut(b"".join(sent).decode("utf-8", "replace"), limit)
    if not redact:
        return text, truncated
    redacted = redact.text(text)
    in_messages = "".join([e.get("message", "") for e in events]).count(REDACTED)
    if redacted.count(REDACTED) < in_messages:
        redacted = frames_text(events)
    return redacted, truncated
