"""The Script: every answer of the emulator, written once, rendered three ways.

A request is turned into one Script: an ordered list of timed events, or a scripted status reply,
possibly with a fault. ``/stream`` writes the events as SSE frames at their times, ``/invoke`` joins
the chunks, ``/batch`` does that per item; so the three endpoints agree by construction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vivi_emulator.wire import Wire

START = "on_chat_model_start"
CHUNK = "on_chat_model_stream"
END = "on_chat_model_end"

_WORDS = re.compile(r"\s*\S+\s*|\s+")


@dataclass(frozen=True, slots=True)
class ScriptEvent:
    """One event: its LangChain name and text, and how long to wait before sending it."""

    event: str
    message: str = ""
    delay: float = 0.0
    # A frame sent verbatim instead of the event's JSON (the `malformed` fault, recorded frames).
    raw: bytes | None = None

    def journaled(self) -> dict[str, str]:
        """The event as the journal shows it: a verbatim frame as its text, else message and
        event."""
        if self.raw is not None:
            return {"raw": self.raw.decode("utf-8", "replace")}
        return {"message": self.message, "event": self.event}


@dataclass(frozen=True, slots=True)
class Script:
    events: tuple[ScriptEvent, ...]
    scenario: str = "builtin"
    # Stream faults: drop the connection after the events (no clean end of the HTTP body).
    abort: bool = False
    # Why the stream is broken (a fault), if it is: /invoke and /batch answer 500 with it.
    broken: str | None = None
    # Extra response headers (e.g. recorded ones).
    headers: tuple[tuple[str, str], ...] = field(default=())
    # How the stream's bytes are written (vivi_emulator.wire); None: the docs' framing.
    wire: Wire | None = None
    # A fault added to this reply by chaos, as the journal tells it ("disconnect after 3 events").
    injected: str | None = None
    # Built once and shared by every request it answers (a constant script, ``engine``): what
    # is made of it for the wire may be kept with it (``rendering.Rendered``).
    shared: bool = field(default=False, compare=False)

    # Derived once, when the script is made: both are read on every request.
    duration: float = field(init=False, repr=False, compare=False)
    """Seconds from the request to the last event, as scripted."""
    reply: str = field(init=False, repr=False, compare=False)
    """The whole reply: the text of the chunks, joined; what ``/invoke`` answers.

    A verbatim frame counts with the message its JSON carries (recorded frames); a malformed one
    carries none."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "duration", sum(e.delay for e in self.events))
        reply = "".join(e.message for e in self.events if e.event == CHUNK)
        object.__setattr__(self, "reply", reply)


def split_words(text: str) -> list[str]:
    """Chunks the way a model streams words: each word keeps the spaces that follow it."""
    chunks = _WORDS.findall(text)
    return chunks or [text]
