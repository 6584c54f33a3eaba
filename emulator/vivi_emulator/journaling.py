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

Making an entry is on every request's path: the redactor and each set of headers a client sends
are made once and reused (``Journaling``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

from vivi_emulator import metrics, tracing
from vivi_emulator.caches import Cache
from vivi_emulator.calls import Trace
from vivi_emulator.journal import JournalEntry
from vivi_emulator.redaction import CREDENTIAL_HEADERS, REDACTED, Redactor
from vivi_emulator.rendering import Played
from vivi_emulator.sse import encode_event
from vivi_emulator.store.keys import KeyRing

HEADER_VALUE_BYTES = 1024
MAX_HEADERS = 64

_Headers = tuple[tuple[str, str], ...]


class Journaling:
    """Makes journal entries; keeps the redactor of the current keys and the headers' copies."""

    def __init__(self, entry_bytes: int, admin_token: str | None = None) -> None:
        self.entry_bytes = entry_bytes
        self._admin_token = admin_token
        self._redactors: tuple[KeyRing, Redactor] | None = None
        # Header values as journaled (cut, redacted), for the current redactor.
        self._values: Cache[str, str] = Cache(1024)
        self._redactor_of_values: Redactor | None = None

    def redactor(self, ring: KeyRing) -> Redactor:
        """Removes every key used here (the store keeps the most recent ``redacted_keys``,
        deleted channels' included) and the admin token from journaled text: one redactor per
        snapshot of the keys (a new snapshot is made only when the keys change)."""
        if self._redactors is None or self._redactors[0] is not ring:
            redactor = Redactor(ring.ever)
            if self._admin_token is not None:
                redactor.add(self._admin_token)
            self._redactors = (ring, redactor)
        return self._redactors[1]

    def entry(self, trace: Trace, ring: KeyRing) -> JournalEntry:
        """The immutable journal entry of a finished request: redacted, and size-bounded."""
        redact = self.redactor(ring)
        call = trace.call
        limit = self.entry_bytes
        body, cut = body_text(trace.body, redact, limit // 3)
        events: tuple[dict[str, str], ...] | None = None
        left_out = 0
        played = trace.stream
        if played is not None:
            events, left_out = self._events(played, redact)
        # Only a stream whose writes wire options shaped keeps its text: any other's is its
        # events' own frames, which the HAR export writes from the events (``frames_text``).
        wire_bytes = played.wire_bytes if played is not None else None
        text, text_cut = (
            stream_text(wire_bytes, events, redact, limit - limit // 3)
            if wire_bytes is not None and events is not None
            else (None, False)
        )
        entry = JournalEntry(
            id=0,
            time=call.started,
            method=call.method,
            path=call.path,
            channel=call.channel,
            headers=self._kept_headers(call.headers, redact),
            status=trace.status,
            body=body,
            body_truncated=cut,
            items=tuple(trace.items),
            events=events,
            events_left_out=left_out,
            error=redact.text(trace.error) if trace.error else None,
            client_left=trace.client_left,
            duration_ms=(time.monotonic() - call.clock) * 1000,
            text=text,
            text_truncated=text_cut,
            first_byte_ms=(played.first_byte - call.clock) * 1000
            if played is not None and played.first_byte is not None
            else None,
        )
        metrics.finished(entry)
        tracing.finished(entry)
        return entry

    def _events(self, played: Played, redact: Redactor) -> tuple[tuple[dict[str, str], ...], int]:
        """A stream's events as journaled: a whole stream's from its rendering (made once per
        script and redactor), a cut one's from the events it sent."""
        limit = self.entry_bytes - self.entry_bytes // 3
        if played.complete:
            return played.rendered.kept_events(
                redact, lambda events: kept_events(events, redact, limit)
            )
        return kept_events(played.events, redact, limit)

    def _kept_headers(self, headers: Mapping[str, str], redact: Redactor) -> _Headers:
        """The headers as journaled. Clients send the same header values again and again,
        mixed with values new on every request (``traceparent``, ``x-request-id``): each value
        is redacted once (per redactor), so one new value costs one redaction, not the set's."""
        if redact is not self._redactor_of_values:
            self._values.clear()
            self._redactor_of_values = redact
        kept = []
        for name, value in headers.items():
            if name in CREDENTIAL_HEADERS:
                kept.append((name, REDACTED))
            else:
                shown = self._values.get(value)
                if shown is None:
                    shown = self._values.put(value, _kept_value(value, redact))
                kept.append((name, shown))
            if len(kept) == MAX_HEADERS:
                break
        return tuple(kept)


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
    text, truncated = cut(raw, limit) if len(raw) > limit // 4 else (raw, False)
    return (redact.text(text) if redact else text), truncated


def _kept_value(value: str, redact: Redactor) -> str:
    """A header value as journaled: bounded, secrets removed."""
    if len(value) > HEADER_VALUE_BYTES // 4:  # a UTF-8 character is at most 4 bytes
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
    """The events within ``limit`` bytes of text, and how many were left out."""
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
    if redact:
        # The messages as one text: a key echoed back is cut into several chunks.
        messages = redact.parts([e.get("message", "") for e in kept])
        kept = [
            {k: (message if k == "message" else redact.text(v)) for k, v in event.items()}
            for event, message in zip(kept, messages, strict=True)
        ]
    return tuple(kept), left_out


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
