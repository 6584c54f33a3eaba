"""The one SSE codec: VIVI's exact framing out, any valid SSE stream in.

Encoding writes what VIVI writes, byte for byte: ``data: <json>\\n\\n``, nothing else (no
``event:`` or ``id:`` lines, no comments). The JSON is what Python's ``json.dumps`` writes with
its default separators, keys in the order message, event, non-ASCII as ``\\uXXXX``: the docs'
sample, ``data: {"message": "Hello", "event": "..."}``.

Decoding reads what a client's SSE parser reads (the WHATWG ``text/event-stream`` rules): lines
end with CRLF, LF or CR; a blank line ends a frame; ``data`` lines are joined with LF, one space
after the colon dropped; comments and other fields are skipped. The recorder, the replay of
recorded frames, ``contract --compare`` and the tests all read streams with it.

On the server's hot path (``streaming`` calls :func:`frame` for every event): only ``json`` and
``re`` are imported here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from vivi_emulator.script import END, START, ScriptEvent

_PREFIX = b"data: "
_SUFFIX = b"\n\n"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINE_END = re.compile(rb"\r\n?|\n")

# --- encoding ---------------------------------------------------------------------------------


def event_data(message: str, event: str, *, ascii_only: bool = True) -> str:
    """The data of a VIVI event: its JSON, as the docs' sample writes it (``ascii_only``
    False: non-ASCII as raw UTF-8, a wire variant)."""
    # Default json.dumps: ", " and ": " separators, non-ASCII as \uXXXX escapes.
    return json.dumps({"message": message, "event": event}, ensure_ascii=ascii_only)


def data_line(message: str, event: str, *, ascii_only: bool = True) -> bytes:
    """The ``data:`` line of a VIVI event, without its line end."""
    return _PREFIX + event_data(message, event, ascii_only=ascii_only).encode("utf-8")


def encode_event(message: str, event: str) -> bytes:
    """A VIVI event as one frame."""
    return _PREFIX + event_data(message, event).encode("ascii") + _SUFFIX


# The frames every stream sends, encoded once at import (constants, not a cache).
_FIXED_FRAMES: Mapping[tuple[str, str], bytes] = MappingProxyType(
    {(START, ""): encode_event("", START), (END, ""): encode_event("", END)}
)


def frame(event: ScriptEvent) -> bytes:
    """The bytes of a Script event: its raw frame when it has one, else its VIVI frame."""
    if event.raw is not None:
        return event.raw
    fixed = _FIXED_FRAMES.get((event.event, event.message))
    return fixed if fixed is not None else encode_event(event.message, event.event)


# --- the wire's variants (vivi_emulator.wire decides which, and when; the bytes are made here)

BOM = b"\xef\xbb\xbf"
LINE_ENDS = {"lf": b"\n", "crlf": b"\r\n", "cr": b"\r"}


def field_line(name: str, value: int) -> bytes:
    """A numeric field line (``id: 3``, ``retry: 3000``), without its line end."""
    return b"%s: %d" % (name.encode("ascii"), value)


def lines(fields: Sequence[bytes], eol: bytes) -> bytes:
    """Field lines, each ended by ``eol`` (the start of a frame, before its blank line)."""
    return b"".join(f + eol for f in fields)


def frame_of(fields: Sequence[bytes], eol: bytes) -> bytes:
    """A frame of these field lines: each ended by ``eol``, then the blank line."""
    return lines(fields, eol) + eol


def comment_frame(text: str, eol: bytes) -> bytes:
    """A comment frame (``: text``), as keep-alives are written."""
    return b": " + text.encode("utf-8") + eol + eol


def with_line_ends(raw: bytes, eol: bytes) -> bytes:
    """A verbatim frame with every line end written as ``eol``."""
    return raw if eol == b"\n" else _LINE_END.sub(eol, raw)


def encode_data(data: str) -> bytes:
    """A frame carrying ``data``: ``data: <data>\\n\\n``.

    Data holding line breaks takes one ``data:`` line per line, so a client reads it back
    whole (a break inside one line would end the field there).
    """
    lines = _LINE_BREAK.split(data)
    return b"".join(_PREFIX + line.encode("utf-8") + b"\n" for line in lines) + b"\n"


# --- decoding ---------------------------------------------------------------------------------


class FrameSplitter:
    """Cuts a byte stream into frames as it arrives, each with the blank line that ends it.

    The frames joined give back the stream exactly. A frame is cut as soon as its blank line is
    complete, with one exception: a CR at the very end of what has arrived may be the first half
    of a CRLF, so that frame waits for the next byte (or :meth:`finish`).
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._scan = 0  # where the search for the next line end resumes
        self._line = 0  # where the current line starts

    def feed(self, chunk: bytes) -> list[bytes]:
        """The frames that ``chunk`` completes, in order."""
        self._buffer += chunk
        frames = []
        while (end := self._frame_end()) is not None:
            frames.append(bytes(self._buffer[:end]))
            del self._buffer[:end]
            self._scan = self._line = 0
        return frames

    def finish(self) -> bytes:
        """What is left at the end of the stream: an unfinished last frame, or ``b""``."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        self._scan = self._line = 0
        return rest

    def _frame_end(self) -> int | None:
        while (found := _LINE_END.search(self._buffer, self._scan)) is not None:
            if found.group() == b"\r" and found.end() == len(self._buffer):
                self._scan = found.start()  # CR or CRLF: decided by the next byte
                return None
            blank = found.start() == self._line
            self._scan = self._line = found.end()
            if blank:
                return found.end()
        self._scan = len(self._buffer)
        return None


def split_frames(body: bytes) -> list[bytes]:
    """A whole stream's frames; an unfinished last frame is kept as it is."""
    splitter = FrameSplitter()
    frames = splitter.feed(body)
    rest = splitter.finish()
    return [*frames, rest] if rest else frames


def frame_data(frame: bytes | str) -> str | None:
    """The data of one frame as a client reads it; None when it has no ``data`` field."""
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    values = []
    for line in _LINE_BREAK.split(text):
        if line == "data" or line.startswith("data:"):
            value = line[5:]
            values.append(value[1:] if value.startswith(" ") else value)
    return "\n".join(values) if values else None


def parse_event(data: str) -> tuple[str, str] | None:
    """(event, message) of a VIVI event's data; None when it is not one."""
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    event, message = payload.get("event"), payload.get("message")
    if not isinstance(event, str) or not isinstance(message, str):
        return None
    return event, message


def is_vivi_framed(frame: bytes) -> bool:
    """Whether ``frame`` is exactly the framing VIVI writes: one ``data: `` line, ``\\n\\n``."""
    data = frame_data(frame)
    return data is not None and "\n" not in data and frame == encode_data(data)
