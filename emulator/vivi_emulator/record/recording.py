"""The fixture file of a recording session: what the proxy saw, as scenarios.

What the proxy saw on the message operations (``/stream``, ``/invoke``) is written, after each
answer, as fixture scenarios in one file per session, ready for ``serve --fixtures``:

- the match: the request's ``message`` (exact) and the ``turn`` of its thread;
- a stream: its ``frames``, each with the time since the previous one, replayed byte for byte;
  and its ``chunks``, the reads as they came from the socket (sizes and gaps), with
  ``replay: wire`` so ``/stream`` replays them chunk for chunk (when the frames hold the bytes
  exactly: not when a secret was removed from them, nor for bytes that are not UTF-8);
- an invoke answer: frames too (start, the whole message as one chunk after the answer's time,
  end), so ``/invoke`` replays it and ``/stream`` answers it in one chunk;
- a 429 or 5xx answer: a ``status`` reply; other error answers (a refused key, an invalid body)
  are the emulator's own business, so their scenarios get no ``match`` (chosen only by name);
- ``recorded``: the answer as received (status, headers, body) for ``contract --compare``.

Never written: the API key and every other secret the client sent (credential headers, query
parameters and body fields named like a credential; removed from everything written, in every
form it may take), and any header that carries credentials (:func:`is_credential`).

Bounded: an answer is recorded up to ``MAX_ANSWER_BYTES`` (a larger one is still forwarded, not
recorded); a file holds at most ``MAX_FILE_SCENARIOS`` scenarios or ``ROLL_BYTES`` of text, then
the session goes on in a new file; the turns of at most ``max_threads`` threads are kept (the
least recently used go first). The file is written off the event loop.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import yaml

from vivi_emulator import sse
from vivi_emulator.paths import MESSAGE_OPERATIONS, parse_api_path
from vivi_emulator.record.secrets import named_like_a_credential
from vivi_emulator.redaction import Redactor
from vivi_emulator.scenarios.checks import MAX_REPLY_CHARS
from vivi_emulator.scenarios.model import Frame
from vivi_emulator.script import CHUNK, END, START

# The largest answer recorded: a fixture's reply is at most MAX_REPLY_CHARS characters, each up
# to 4 bytes of UTF-8, framing aside. A larger answer is forwarded, not recorded.
MAX_ANSWER_BYTES = 4 * MAX_REPLY_CHARS
# A recording file rolls over to a new one past either, so every file stays under what
# `serve --fixtures` and `contract --compare` read (MAX_RECORDING_BYTES): a file past ROLL_BYTES
# gets no more scenarios, and the largest scenario (an answer of MAX_ANSWER_BYTES: its frames,
# their reads, YAML's own bytes) stays under 8 MiB.
MAX_FILE_SCENARIOS = 1000
ROLL_BYTES = 8 * 1024 * 1024
MAX_RECORDING_BYTES = 16 * 1024 * 1024

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "host",
    }
)
# Set by the emulator itself when it replays, so not replayed from a recording.
_EMULATOR_OWN = frozenset(
    {
        "content-type",
        "content-length",
        "content-encoding",
        "cache-control",
        "x-accel-buffering",
        "date",
        "server",
        "via",
        "alt-svc",
    }
)


def is_credential(name: str) -> bool:
    """Whether a header is never written: a credential header, or one named like it (the
    recorder sees an unknown deployment's headers)."""
    return named_like_a_credential(name)


def operation_label(method: str, path: str) -> str:
    """The contract's label of a request path (``POST /channelsApi/{channelId}/stream``)."""
    parsed = parse_api_path(path)
    if parsed is None:
        return f"{method} {path}"
    operation = parsed.operation
    if operation.startswith("files/") and operation.count("/") == 2:
        operation = "files/{fileId}/{fileName}"
    return f"{method} /channelsApi/{{channelId}}/{operation}"


class TimedFrames:
    """A stream's SSE frames as they arrive, each with the time since the previous one; and
    the reads themselves (``chunks``: the time since the previous read, and the size)."""

    def __init__(self, started: float) -> None:
        self._splitter = sse.FrameSplitter()
        self._last = started
        self._last_chunk = started
        self.frames: list[tuple[float, bytes]] = []  # (ms after the previous frame, bytes)
        self.chunks: list[tuple[float, int]] = []  # (ms after the previous read, bytes)

    def feed(self, chunk: bytes, now: float) -> None:
        if chunk:
            self.chunks.append((round((now - self._last_chunk) * 1000.0, 1), len(chunk)))
            self._last_chunk = now
        for frame in self._splitter.feed(chunk):
            self._add(frame, now)

    def finish(self, now: float) -> None:
        rest = self._splitter.finish()
        if rest:
            self._add(rest, now)

    def _add(self, frame: bytes, now: float) -> None:
        self.frames.append((round((now - self._last) * 1000.0, 1), frame))
        self._last = now


def frame_spec(after_ms: float, raw: bytes) -> dict[str, Any]:
    """A fixture frame: ``data`` when the frame is exactly VIVI's framing, else ``raw``."""
    if sse.is_vivi_framed(raw):
        return {"after_ms": after_ms, "data": sse.frame_data(raw)}
    return {"after_ms": after_ms, "raw": raw.decode("utf-8", "replace")}


@dataclass
class Exchange:
    """One request and its answer, as the proxy saw them."""

    method: str
    path: str
    request_body: bytes
    started: float
    at: str
    status: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    frames: TimedFrames | None = None  # a stream's
    elapsed_ms: float = 0.0
    complete: bool = True
    client_gone: bool = False
    # Bytes of the answer read so far; past MAX_ANSWER_BYTES it is no longer kept.
    answer_bytes: int = 0

    @property
    def oversize(self) -> bool:
        return self.answer_bytes > MAX_ANSWER_BYTES

    def keep(self, chunk: bytes, now: float) -> None:
        """Note a chunk of the answer, within the bound."""
        self.answer_bytes += len(chunk)
        if self.oversize:
            return
        if self.frames is not None:
            self.frames.feed(chunk, now)
        else:
            self.body += chunk

    @property
    def operation(self) -> str:
        """The contract's label: ``POST /channelsApi/{channelId}/stream``."""
        return operation_label(self.method, self.path)

    @property
    def is_stream(self) -> bool:
        content_type = dict(self.headers).get("content-type", "")
        return content_type.split(";")[0].strip().lower() == "text/event-stream"


class Recording:
    """The fixture file of one recording session, written again after every answer."""

    def __init__(
        self, folder: Path, upstream: str, redact: Redactor, *, max_threads: int = 10_000
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.upstream = upstream
        self.redact = redact
        self.max_threads = max_threads
        self.turns: OrderedDict[tuple[str, str], int] = OrderedDict()
        self.recorded = 0  # scenarios, in every file of the session
        self._lock = anyio.Lock()
        self._new_file()

    def _new_file(self) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        self.path = self.folder / f"recording-{stamp}.yaml"
        for number in range(2, 1000):  # two files started in the same second
            if not self.path.exists():
                break
            stamp = f"{stamp.split('-')[0]}-{number}"
            self.path = self.folder / f"recording-{stamp}.yaml"
        self.session = stamp
        self.scenarios: list[dict[str, Any]] = []
        self.text_bytes = 0

    def next_turn(self, channel: str, thread: str) -> int:
        return self.turns.get((channel, thread.lower()), 0) + 1

    def commit_turn(self, channel: str, thread: str) -> None:
        key = (channel, thread.lower())
        self.turns[key] = self.turns.get(key, 0) + 1
        self.turns.move_to_end(key)
        while len(self.turns) > self.max_threads:
            self.turns.popitem(last=False)

    def add(self, exchange: Exchange) -> dict[str, Any] | None:
        """Turn an exchange into a scenario and write the file; None when not recorded."""
        parsed = parse_api_path(exchange.path)
        if parsed is None or parsed.operation not in MESSAGE_OPERATIONS:
            return None
        if exchange.method != "POST" or exchange.client_gone or exchange.oversize:
            return None
        channel, op = parsed
        request = _json_object(exchange.request_body) or {}
        if op == "batch":
            # Not recorded (one answer for many messages), but its items open turns upstream.
            if 200 <= exchange.status < 300:
                for item in request.get("messages") or []:
                    if isinstance(item, dict) and isinstance(item.get("threadId"), str):
                        self.commit_turn(channel, item["threadId"])
            return None
        message, thread = request.get("message"), request.get("threadId")
        replayable = isinstance(message, str) and isinstance(thread, str)
        scenario: dict[str, Any] = {
            "name": f"rec-{self.session}-{len(self.scenarios) + 1:03d}-{op}",
            "description": f"{exchange.operation} answered {exchange.status}, "
            f"recorded {exchange.at}",
        }
        status = exchange.status
        if replayable and (200 <= status < 300 or status == 429 or status >= 500):
            turn = self.next_turn(channel, str(thread))
            scenario["match"] = {"message": self.redact(str(message)), "turn": turn}
        scenario |= self._reply(exchange)
        scenario["recorded"] = self._recorded(exchange)
        if replayable and 200 <= status < 300:
            self.commit_turn(channel, str(thread))
        if len(self.scenarios) >= MAX_FILE_SCENARIOS or self.text_bytes >= ROLL_BYTES:
            self._new_file()
        self.scenarios.append(scenario)
        self.recorded += 1
        return scenario

    async def save(self) -> None:
        """Write the file, off the event loop; one writer at a time, each with the newest
        scenarios (so the last write holds them all)."""
        async with self._lock:
            path, scenarios = self.path, list(self.scenarios)
            self.text_bytes = await anyio.to_thread.run_sync(self._write, path, scenarios)

    def _kept_headers(self, exchange: Exchange) -> list[tuple[str, str]]:
        return [(k, self.redact(v)) for k, v in exchange.headers if not is_credential(k)]

    def _reply(self, exchange: Exchange) -> dict[str, Any]:
        """The scenario's answer: frames, or a status; and the headers to replay."""
        status = exchange.status
        headers = {k: v for k, v in self._kept_headers(exchange) if k.lower() not in _EMULATOR_OWN}
        reply: dict[str, Any] = {}
        if 200 <= status < 300 and exchange.frames is not None:
            reply |= self._stream(exchange.frames, exchange.complete)
        elif 200 <= status < 300:
            body = self.redact(exchange.body.decode("utf-8", "replace"))
            reply["frames"] = _invoke_frames(body, exchange.elapsed_ms)
        elif 400 <= status <= 599:
            retry = {k: v for k, v in headers.items() if k.lower() == "retry-after"}
            reply["status"] = _status(
                status, retry, self.redact(exchange.body.decode("utf-8", "replace"))
            )
            headers = {k: v for k, v in headers.items() if k not in retry}
        else:
            # An answer the fixture format cannot replay (1xx, 3xx): kept for --compare only.
            reply["frames"] = []
        if headers:
            reply["headers"] = headers
        return reply

    def _stream(self, timed: TimedFrames, complete: bool) -> dict[str, Any]:
        """A stream's frames; and its reads, to replay chunk for chunk, when the frames (as
        written) hold its bytes exactly."""
        specs = [self.redact.value(frame_spec(ms, raw)) for ms, raw in timed.frames]
        reply: dict[str, Any] = {"frames": specs}
        if not complete:
            reply["fault"] = {"close_after_events": len(specs)}
        received = b"".join(raw for _, raw in timed.frames)
        if timed.chunks and b"".join(Frame.model_validate(f).encoded for f in specs) == received:
            reply["replay"] = "wire"
            reply["chunks"] = [{"after_ms": ms, "size": size} for ms, size in timed.chunks]
        return reply

    def _recorded(self, exchange: Exchange) -> dict[str, Any]:
        recorded: dict[str, Any] = {
            "operation": exchange.operation,
            "status": exchange.status,
            "headers": {
                k: v for k, v in self._kept_headers(exchange) if k.lower() not in HOP_BY_HOP
            },
        }
        if not exchange.is_stream:
            recorded["body"] = self.redact(exchange.body.decode("utf-8", "replace"))
        return recorded | {
            "elapsed_ms": round(exchange.elapsed_ms, 1),
            "complete": exchange.complete,
            "at": exchange.at,
            "upstream": self.upstream,
        }

    def write(self) -> None:
        """Write the file now (in this thread)."""
        self.text_bytes = self._write(self.path, list(self.scenarios))

    def _write(self, path: Path, scenarios: list[dict[str, Any]]) -> int:
        text = yaml.safe_dump(
            {"version": 1, "scenarios": scenarios},
            sort_keys=False,
            allow_unicode=True,
            width=1 << 30,
            default_flow_style=None,
        )
        header = (
            f"# Recorded by vivi-emulator record from {self.upstream}.\n"
            "# Replay: vivi-emulator serve --fixtures <this folder>; check against the contract:\n"
            "# vivi-emulator contract --compare <this file>. The API key is not in this file.\n"
        )
        data = (header + self.redact(text)).encode("utf-8")
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".recording-", suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
        return len(data)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # nested past Python's stack: not a message
        return None
    return value if isinstance(value, dict) else None


def _status(code: int, headers: dict[str, str], body: str) -> dict[str, Any]:
    """A ``status`` reply: the code, its ``Retry-After``, the body (JSON when it is)."""
    reply: dict[str, Any] = {"code": code}
    if headers:
        reply["headers"] = headers
    parsed = _json_object(body.encode("utf-8"))
    reply["body"] = parsed if parsed is not None else {"detail": body}
    return reply


def _invoke_frames(body: str, elapsed_ms: float) -> list[dict[str, Any]]:
    """An invoke answer as frames: its message as one chunk, after the time it took."""
    parsed = _json_object(body.encode("utf-8"))
    message = parsed.get("message") if parsed else None
    if not isinstance(message, str):
        return []
    return [
        {"after_ms": 0.0, "data": sse.event_data("", START)},
        {"after_ms": round(elapsed_ms, 1), "data": sse.event_data(message, CHUNK)},
        {"after_ms": 0.0, "data": sse.event_data("", END)},
    ]
