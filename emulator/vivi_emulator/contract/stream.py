"""A stream's events checked one by one as they arrive, within bounds on bytes, events and time.

The contract describes each event of a ``text/event-stream`` answer with an item schema (OpenAPI
3.2's ``itemSchema``; in the 3.1 document, the media type's ``schema`` plays that part): an
object with ``data`` (and ``event``, ``id``, ``retry``), whose ``data`` may declare
``contentMediaType: application/json`` and a ``contentSchema``. :class:`StreamWatch` reads the
bytes as they come (``feed``), cuts them into events with the server's SSE codec, validates each
at once, and stops at the first bad event (its index, its raw bytes, the schema path it broke) or
at the first bound passed (a stream that never ends is caught at its time bound, one that never
finishes an event at its byte bound).

Pure: no I/O, no schemathesis; the clock is given. ``contract.stream_check`` feeds it from the
socket (or the in-process emulator) inside a schemathesis run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

from vivi_emulator.contract.document import escape
from vivi_emulator.sse import FrameSplitter

# The default bounds of one stream: a VIVI reply is far smaller; a stream past them is reported.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_EVENTS = 1000
DEFAULT_SECONDS = 30.0
# How much of a bad event's bytes a report shows.
RAW_SHOWN = 600

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Bounds:
    """How much of one stream is read: bytes, events (with data), seconds from the first byte
    of the answer's body being awaited."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_events: int = DEFAULT_MAX_EVENTS
    seconds: float = DEFAULT_SECONDS


@dataclass(frozen=True)
class BadEvent:
    """The first event that breaks the item schema."""

    index: int  # 0-based, counting events with data (as schemathesis does)
    raw: bytes  # the event's bytes as they came, blank line included
    schema_path: str  # a JSON pointer into the contract: the keyword broken
    instance_path: str  # where in the event: /data/event
    reason: str


@dataclass(frozen=True)
class Exceeded:
    """The stream passed a bound before it ended."""

    bound: str  # "bytes", "events" or "seconds"
    limit: float
    events: int
    bytes: int
    seconds: float


Verdict = BadEvent | Exceeded


def shown(raw: bytes) -> str:
    """A bad event's bytes for a report: exact (a Python bytes literal), cut when long."""
    if len(raw) <= RAW_SHOWN:
        return repr(raw)
    return f"{raw[:RAW_SHOWN]!r}... ({len(raw)} bytes)"


def describe(verdict: Verdict) -> tuple[str, str]:
    """(title, message) of a verdict, for a finding."""
    if isinstance(verdict, BadEvent):
        return (
            f"SSE event #{verdict.index} violates the item schema",
            f"Event #{verdict.index}: {verdict.reason}\n"
            f"Schema path: {verdict.schema_path}\n"
            f"At: {verdict.instance_path or '/'} of the event\n"
            f"Raw bytes: {shown(verdict.raw)}",
        )
    unit = {"bytes": "bytes", "events": "events", "seconds": "s"}[verdict.bound]
    return (
        f"SSE stream exceeded its {verdict.bound} bound",
        f"The stream did not end within {verdict.limit:g} {unit}: it had sent "
        f"{verdict.events} events and {verdict.bytes} bytes after {verdict.seconds:.1f} s, "
        "and was cut there. Each event read was valid.",
    )


# --- the item schemas of a contract -----------------------------------------------------------


@dataclass(frozen=True)
class _Content:
    """``data`` declared as JSON with a schema: the schema, compiled, and its pointer."""

    validator: Any
    pointer: str
    media_pointer: str


@dataclass(frozen=True)
class ItemSchema:
    """One event's schema: compiled, with where it sits in the contract."""

    validator: Any
    pointer: str
    content: _Content | None = None

    def check(self, item: Mapping[str, Any]) -> tuple[str, str, str] | None:
        """(schema path, instance path, reason) of the first error, or None."""
        error = next(iter(self.validator.iter_errors(item)), None)
        if error is not None:
            return _located(self.pointer, error)
        content = self.content
        if content is None or not isinstance(item.get("data"), str):
            return None
        try:
            payload = json.loads(item["data"])
        except ValueError as exc:
            return content.media_pointer, "/data", f"data is not JSON: {exc}"
        error = next(iter(content.validator.iter_errors(payload)), None)
        if error is None:
            return None
        path, at, reason = _located(content.pointer, error)
        return path, "/data" + at, reason


def _located(pointer: str, error: Any) -> tuple[str, str, str]:
    path = [str(s) for s in error.schema_path]
    # A $ref into the components shows as a path from the root: keep it absolute.
    if path[:1] == ["components"]:
        schema_path = "#/" + "/".join(escape(s) for s in path)
    else:
        schema_path = pointer + "".join("/" + escape(s) for s in path)
    instance = "".join("/" + escape(str(s)) for s in error.instance_path)
    return schema_path, instance, str(error.message)


class ItemSchemas:
    """The item schema of every ``text/event-stream`` answer of a contract document (3.1 or 3.2),
    compiled once, by operation label and status."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self._cache: dict[tuple[str, int], ItemSchema | None] = {}

    def find(self, label: str, status: int) -> ItemSchema | None:
        key = (label, status)
        if key not in self._cache:
            self._cache[key] = self._build(label, status)
        return self._cache[key]

    def _resolve(self, node: Any, pointer: str) -> tuple[Any, str]:
        for _ in range(32):
            if not (isinstance(node, Mapping) and isinstance(node.get("$ref"), str)):
                break
            pointer = node["$ref"]
            node = self.document
            for segment in pointer.removeprefix("#/").split("/"):
                node = node.get(segment.replace("~1", "/").replace("~0", "~"), {})
        return node, pointer

    def _build(self, label: str, status: int) -> ItemSchema | None:
        method, _, path = label.partition(" ")
        operation = ((self.document.get("paths") or {}).get(path) or {}).get(method.lower())
        if not isinstance(operation, Mapping):
            return None
        responses = operation.get("responses") or {}
        codes = (str(status), f"{str(status)[0]}XX", "default")
        code = next((c for c in codes if c in responses), None)
        if code is None:
            return None
        base = f"#/paths/{escape(path)}/{method.lower()}/responses/{code}"
        response, base = self._resolve(responses[code], base)
        media = (response.get("content") or {}).get("text/event-stream")
        if not isinstance(media, Mapping):
            return None
        media_pointer = f"{base}/content/text~1event-stream"
        keyword = "itemSchema" if "itemSchema" in media else "schema"
        if keyword not in media:
            return None
        schema, pointer = self._resolve(media[keyword], f"{media_pointer}/{keyword}")
        return ItemSchema(self._compile(schema), pointer, self._content(schema, pointer))

    def _compile(self, schema: Any) -> Any:
        # The components ride along, so the schema's own $refs resolve; validators ignore the
        # unknown keyword.
        whole = {**schema, "components": self.document.get("components") or {}}
        return jsonschema_rs.Draft202012Validator(whole)

    def _content(self, schema: Mapping[str, Any], pointer: str) -> _Content | None:
        data = (schema.get("properties") or {}).get("data")
        if not isinstance(data, Mapping) or "contentSchema" not in data:
            return None
        media = str(data.get("contentMediaType", "application/json")).split(";")[0]
        if media != "application/json":
            return None
        at = f"{pointer}/properties/data"
        content, content_at = self._resolve(data["contentSchema"], f"{at}/contentSchema")
        return _Content(self._compile(content), content_at, f"{at}/contentMediaType")


# --- reading a stream -------------------------------------------------------------------------


def parse_item(frame: bytes) -> dict[str, Any] | None:
    """An SSE event as OpenAPI 3.2 models it (``data``, ``event``, ``id``, ``retry``), or None
    for a frame without data (a comment, a keep-alive): not an event."""
    data: list[str] = []
    item: dict[str, Any] = {"event": "message"}  # the spec's default name
    for line in frame.decode("utf-8", "replace").splitlines():
        if not line or line.startswith(":"):
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            item["event"] = value or "message"
        elif name == "id" and "\0" not in value:
            item["id"] = value
        elif name == "retry" and value.isdigit():
            item["retry"] = int(value)
    if not data:
        return None
    item["data"] = "\n".join(data)
    return item


@dataclass
class StreamWatch:
    """One stream, read as it arrives: ``feed`` each chunk; a verdict ends it."""

    schema: ItemSchema
    bounds: Bounds
    started: float
    events: int = 0
    read: int = 0  # bytes
    verdict: Verdict | None = None
    _splitter: FrameSplitter = field(default_factory=FrameSplitter)
    _held: int = 0  # bytes of an unfinished frame, in the splitter
    _first: bool = True

    @property
    def done(self) -> bool:
        return self.verdict is not None

    def feed(self, chunk: bytes, now: float) -> int:
        """Read ``chunk``; return how many of its bytes the stream keeps: all, unless a verdict
        cut it (after the bad event, or at the bound)."""
        if self.verdict is not None:
            return 0
        room = self.bounds.max_bytes - self.read
        over = len(chunk) > room
        chunk = chunk[:room]
        self.read += len(chunk)
        held, end = self._held, 0
        for frame in self._splitter.feed(chunk):
            end += len(frame)
            if self._event(frame, now):
                return end - held
        self._held = held + len(chunk) - end
        if over:
            self._exceed("bytes", self.bounds.max_bytes, now)
        elif now - self.started > self.bounds.seconds:
            self._exceed("seconds", self.bounds.seconds, now)
        return len(chunk)

    def timed_out(self, now: float) -> None:
        """The time bound passed with no byte coming."""
        if self.verdict is None:
            self._exceed("seconds", self.bounds.seconds, now)

    def finish(self, now: float) -> None:
        """The stream ended: its last, unterminated frame is an event too if it has data."""
        if self.verdict is None:
            rest = self._splitter.finish()
            if rest:
                self._event(rest, now)

    def _event(self, frame: bytes, now: float) -> bool:
        """Check one frame; True when it ends the stream (a bad event, or one too many)."""
        body = frame[len(_BOM) :] if self._first and frame.startswith(_BOM) else frame
        self._first = False
        item = parse_item(body)
        if item is None:
            return False
        if self.events >= self.bounds.max_events:
            self._exceed("events", self.bounds.max_events, now)
            return True
        index = self.events
        self.events += 1
        broken = self.schema.check(item)
        if broken is None:
            return False
        path, at, reason = broken
        self.verdict = BadEvent(index, frame, path, at, reason)
        return True

    def _exceed(self, bound: str, limit: float, now: float) -> None:
        self.verdict = Exceeded(bound, limit, self.events, self.read, now - self.started)
