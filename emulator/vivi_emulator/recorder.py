"""``vivi-emulator record``: a recording proxy in front of a real VIVI deployment.

Every request is forwarded to the upstream as it came (the API key included: the upstream needs
it), and the answer streams back to the client chunk by chunk as it arrives, never buffered. A
client that hangs up closes the upstream request too.

What the proxy saw on the message operations (``/stream``, ``/invoke``) is written, after each
answer, as fixture scenarios in one file per session, ready for ``serve --fixtures``:

- the match: the request's ``message`` (exact) and the ``turn`` of its thread;
- a stream: its ``frames``, each with the time since the previous one, replayed byte for byte;
- an invoke answer: frames too (start, the whole message as one chunk after the answer's time,
  end), so ``/invoke`` replays it and ``/stream`` answers it in one chunk;
- a 429 or 5xx answer: a ``status`` reply; other error answers (a refused key, an invalid body)
  are the emulator's own business, so their scenarios get no ``match`` (chosen only by name);
- ``recorded``: the answer as received (status, headers, body) for ``contract --compare``.

Never recorded: the API key (removed from everything written, wherever it appears), and any
header that carries credentials (``Authorization``, cookies, anything named like a key, token or
secret).
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import httpx
import yaml
from starlette.types import Message, Receive, Scope, Send

from vivi_emulator.conformance import REDACTED
from vivi_emulator.paths import API_KEY_HEADER
from vivi_emulator.scenarios.frames import frame_data, parse_event
from vivi_emulator.scenarios.script import CHUNK, END, START

_log = logging.getLogger("vivi_emulator.recorder")

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
# Never written: credentials, whatever their name.
_CREDENTIALS = re.compile(
    r"authorization|cookie|api[-_]?key|token|secret|password|session|credential|"
    + re.escape(API_KEY_HEADER),
    re.IGNORECASE,
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
_MESSAGE_PATH = re.compile(r"^/channelsApi/(?P<channel>[^/]+)/(?P<op>stream|invoke|batch)$")


def is_credential(name: str) -> bool:
    return bool(_CREDENTIALS.search(name))


def _dump_event(message: str, event: str) -> str:
    return json.dumps({"message": message, "event": event})


class Redactor:
    """Removes every API key seen so far from a text."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        if secret:
            self.secrets.add(secret)

    def __call__(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text


class FrameSplitter:
    """Cuts a byte stream into SSE frames, each stamped with the time its last byte came."""

    def __init__(self, started: float) -> None:
        self.buffer = b""
        self.last = started
        self.frames: list[tuple[float, bytes]] = []  # (ms after the previous frame, bytes)

    def feed(self, chunk: bytes, now: float) -> None:
        self.buffer += chunk
        while True:
            ends = [
                (at, len(sep))
                for sep in (b"\n\n", b"\r\n\r\n", b"\r\r")
                if (at := self.buffer.find(sep)) >= 0
            ]
            if not ends:
                return
            at, size = min(ends)
            frame, self.buffer = self.buffer[: at + size], self.buffer[at + size :]
            self.frames.append((round((now - self.last) * 1000.0, 1), frame))
            self.last = now

    def finish(self, now: float) -> None:
        if self.buffer:
            self.frames.append((round((now - self.last) * 1000.0, 1), self.buffer))
            self.buffer = b""
            self.last = now


def frame_spec(after_ms: float, raw: bytes) -> dict[str, Any]:
    """A fixture frame: ``data`` when the frame is exactly ``data: <x>\\n\\n``, else ``raw``."""
    text = raw.decode("utf-8", "replace")
    body = text.removeprefix("data: ").removesuffix("\n\n")
    if text.startswith("data: ") and text.endswith("\n\n") and not re.search(r"[\r\n]", body):
        return {"after_ms": after_ms, "data": body}
    return {"after_ms": after_ms, "raw": text}


@dataclass
class Exchange:
    """One request and its answer, as the proxy saw them."""

    method: str
    path: str
    operation: str  # the contract's label: POST /channelsApi/{channelId}/stream
    request_headers: dict[str, str]
    request_body: bytes
    started: float
    at: str
    status: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    splitter: FrameSplitter | None = None
    elapsed_ms: float = 0.0
    complete: bool = True
    client_gone: bool = False

    @property
    def is_stream(self) -> bool:
        content_type = dict(self.headers).get("content-type", "")
        return content_type.split(";")[0].strip().lower() == "text/event-stream"


class Recording:
    """The fixture file of one recording session, written again after every answer."""

    def __init__(self, folder: Path, upstream: str, redact: Redactor) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"recording-{stamp}.yaml"
        for number in range(2, 1000):  # two sessions started in the same second
            if not self.path.exists():
                break
            stamp = f"{stamp.split('-')[0]}-{number}"
            self.path = folder / f"recording-{stamp}.yaml"
        self.session = stamp
        self.upstream = upstream
        self.redact = redact
        self.scenarios: list[dict[str, Any]] = []
        self.turns: dict[tuple[str, str], int] = {}

    def next_turn(self, channel: str, thread: str) -> int:
        return self.turns.get((channel, thread.lower()), 0) + 1

    def commit_turn(self, channel: str, thread: str) -> None:
        key = (channel, thread.lower())
        self.turns[key] = self.turns.get(key, 0) + 1

    def add(self, exchange: Exchange) -> dict[str, Any] | None:
        """Turn an exchange into a scenario and write the file; None when not recorded."""
        found = _MESSAGE_PATH.match(exchange.path)
        if exchange.method != "POST" or found is None or exchange.client_gone:
            return None
        channel, op = found.group("channel"), found.group("op")
        request = _json_object(exchange.request_body)
        if op == "batch":
            # Not recorded (one answer for many messages), but its items open turns upstream.
            if 200 <= exchange.status < 300:
                for item in request.get("messages") or [] if request else []:
                    if isinstance(item, dict) and isinstance(item.get("threadId"), str):
                        self.commit_turn(channel, item["threadId"])
            return None
        message, thread = (request or {}).get("message"), (request or {}).get("threadId")
        replayable = isinstance(message, str) and isinstance(thread, str)
        turn = self.next_turn(channel, str(thread)) if replayable else None
        scenario = self._scenario(exchange, op, message if replayable else None, turn)
        if replayable and 200 <= exchange.status < 300:
            self.commit_turn(channel, str(thread))
        self.scenarios.append(scenario)
        self.write()
        return scenario

    def _scenario(
        self, exchange: Exchange, op: str, message: str | None, turn: int | None
    ) -> dict[str, Any]:
        redact = self.redact
        name = f"rec-{self.session}-{len(self.scenarios) + 1:03d}-{op}"
        kept = [(k, redact(v)) for k, v in exchange.headers if not is_credential(k)]
        replay_headers = {k: v for k, v in kept if k.lower() not in _EMULATOR_OWN}
        scenario: dict[str, Any] = {
            "name": name,
            "description": f"{exchange.operation} answered {exchange.status}, "
            f"recorded {exchange.at}",
        }
        status = exchange.status
        body_text = redact(exchange.body.decode("utf-8", "replace"))
        matchable = message is not None and (200 <= status < 300 or status == 429 or status >= 500)
        if matchable:
            scenario["match"] = {"message": redact(message or ""), "turn": turn}
        if 200 <= status < 300 and exchange.is_stream and exchange.splitter is not None:
            frames = [frame_spec(ms, raw) for ms, raw in exchange.splitter.frames]
            for frame in frames:
                for key in ("data", "raw"):
                    if key in frame:
                        frame[key] = redact(frame[key])
            scenario["frames"] = frames
            if not exchange.complete:
                scenario["fault"] = {"close_after_events": len(frames)}
        elif 200 <= status < 300:
            scenario["frames"] = _invoke_frames(body_text, exchange.elapsed_ms)
        elif 400 <= status <= 599:
            parsed = _json_object(body_text.encode("utf-8"))
            reply: dict[str, Any] = {"code": status}
            retry = {k: v for k, v in replay_headers.items() if k.lower() == "retry-after"}
            if retry:
                reply["headers"] = retry
            reply["body"] = parsed if parsed is not None else {"detail": body_text}
            scenario["status"] = reply
            replay_headers = {k: v for k, v in replay_headers.items() if k not in retry}
        else:
            # An answer the fixture format cannot replay (1xx, 3xx): kept for --compare only.
            scenario["frames"] = []
        if replay_headers:
            scenario["headers"] = replay_headers
        recorded: dict[str, Any] = {
            "operation": exchange.operation,
            "status": status,
            "headers": {k: v for k, v in kept if k.lower() not in HOP_BY_HOP},
        }
        if not exchange.is_stream:
            recorded["body"] = body_text
        recorded |= {
            "elapsed_ms": round(exchange.elapsed_ms, 1),
            "complete": exchange.complete,
            "at": exchange.at,
            "upstream": self.upstream,
        }
        scenario["recorded"] = recorded
        return scenario

    def write(self) -> None:
        text = yaml.safe_dump(
            {"version": 1, "scenarios": self.scenarios},
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
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".recording-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(header + self.redact(text))
        os.replace(tmp, self.path)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _invoke_frames(body: str, elapsed_ms: float) -> list[dict[str, Any]]:
    """An invoke answer as frames: its message as one chunk, after the time it took."""
    parsed = _json_object(body.encode("utf-8"))
    message = parsed.get("message") if parsed else None
    if not isinstance(message, str):
        return []
    return [
        {"after_ms": 0.0, "data": _dump_event("", START)},
        {"after_ms": round(elapsed_ms, 1), "data": _dump_event(message, CHUNK)},
        {"after_ms": 0.0, "data": _dump_event("", END)},
    ]


def operation_label(method: str, path: str) -> str:
    """The contract's label of a request path (``POST /channelsApi/{channelId}/stream``)."""
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] == "channelsApi":
        parts[2] = "{channelId}"
        if len(parts) == 6 and parts[3] == "files":
            parts[4], parts[5] = "{fileId}", "{fileName}"
    return f"{method} {'/'.join(parts)}"


def safe_upstream(url: str) -> str:
    """The upstream's URL without user or password, for the recording and the logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


class RecordingProxy:
    """The ASGI application: forward, stream back, record."""

    def __init__(
        self,
        upstream: str,
        folder: Path,
        *,
        timeout: float | None = 300.0,
        transport: httpx.AsyncBaseTransport | None = None,
        on_record: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.redact = Redactor()
        self.recording = Recording(folder, safe_upstream(upstream), self.redact)
        self.timeout = timeout
        self.transport = transport
        self.on_record = on_record
        self.client: httpx.AsyncClient | None = None

    def _client(self) -> httpx.AsyncClient:
        if self.client is None:
            self.client = httpx.AsyncClient(
                transport=self.transport,
                timeout=httpx.Timeout(self.timeout, connect=30.0),
                follow_redirects=False,
            )
        return self.client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.redact.add(headers.get(API_KEY_HEADER))
        path: str = scope["path"]
        exchange = Exchange(
            method=scope["method"],
            path=path,
            operation=operation_label(scope["method"], path),
            request_headers=headers,
            request_body=body,
            started=time.monotonic(),
            at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        await self._forward(scope, exchange, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.client is not None:
                    await self.client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _upstream_headers(self, headers: Mapping[str, str]) -> list[tuple[str, str]]:
        forwarded = [
            (k, v)
            for k, v in headers.items()
            if k.lower() not in HOP_BY_HOP
            and k.lower() not in {"content-length", "accept-encoding"}
        ]
        # Uncompressed, so the bytes recorded are the bytes a client reads.
        return [*forwarded, ("accept-encoding", "identity")]

    async def _forward(
        self, scope: Scope, exchange: Exchange, receive: Receive, send: Send
    ) -> None:
        query = scope.get("query_string", b"").decode("latin-1")
        url = self.upstream + exchange.path + (f"?{query}" if query else "")
        client = self._client()
        request = client.build_request(
            exchange.method,
            url,
            headers=self._upstream_headers(exchange.request_headers),
            content=exchange.request_body,
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            _log.warning("upstream did not answer %s %s: %s", exchange.method, exchange.path, exc)
            exchange.status = 502
            exchange.complete = False
            detail = json.dumps({"detail": f"the upstream did not answer ({type(exc).__name__})"})
            await _send_all(send, 502, [("content-type", "application/json")], detail.encode())
            exchange.client_gone = True  # nothing worth recording
            return
        exchange.status = response.status_code
        exchange.headers = [
            (k, v) for k, v in response.headers.multi_items() if k.lower() not in HOP_BY_HOP
        ]
        # The proxy's own server writes these.
        forward = [(k, v) for k, v in exchange.headers if k.lower() not in {"date", "server"}]
        if exchange.is_stream:
            exchange.splitter = FrameSplitter(exchange.started)
        try:
            await self._stream_back(response, exchange, forward, receive, send)
        finally:
            await response.aclose()

    async def _stream_back(
        self,
        response: httpx.Response,
        exchange: Exchange,
        headers: list[tuple[str, str]],
        receive: Receive,
        send: Send,
    ) -> None:
        start: Message = {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        }
        finished = False
        async with anyio.create_task_group() as tasks:

            async def watch() -> None:
                while True:
                    message = await receive()
                    # Servers also report a disconnect once the answer is complete.
                    if message["type"] == "http.disconnect":
                        exchange.client_gone = not finished
                        tasks.cancel_scope.cancel()
                        return

            tasks.start_soon(watch)
            try:
                await send(start)
                async for chunk in response.aiter_raw():
                    now = time.monotonic()
                    if exchange.splitter is not None:
                        exchange.splitter.feed(chunk, now)
                    else:
                        exchange.body += chunk
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except httpx.HTTPError as exc:
                # The upstream cut the answer: cut the client's too (no clean end of the body).
                _log.warning("upstream cut %s %s: %s", exchange.method, exchange.path, exc)
                exchange.complete = False
                self._record(exchange)
            except OSError:
                exchange.client_gone = True
            else:
                # Written before the client's answer ends: once a client has its whole answer,
                # the recording holds it.
                finished = True
                self._record(exchange)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            finally:
                tasks.cancel_scope.cancel()

    def _record(self, exchange: Exchange) -> None:
        now = time.monotonic()
        exchange.elapsed_ms = (now - exchange.started) * 1000.0
        if exchange.splitter is not None:
            exchange.splitter.finish(now)
        if exchange.client_gone:
            if exchange.status and _MESSAGE_PATH.match(exchange.path):
                _log.info("not recorded: the client hung up on %s", exchange.path)
            return
        scenario = self.recording.add(exchange)
        if scenario is None:
            return
        frames = scenario.get("frames")
        what = f"{len(frames)} frames" if frames is not None else "a status"
        _log.info(
            "recorded %s %s -> %s (%s, %.0f ms) as %s in %s",
            exchange.method,
            exchange.path,
            exchange.status,
            what,
            exchange.elapsed_ms,
            scenario["name"],
            self.recording.path,
        )
        if self.on_record is not None:
            self.on_record(scenario)


async def _send_all(
    send: Send, status: int, headers: Iterable[tuple[str, str]], body: bytes
) -> None:
    try:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})
    except OSError:
        return


def recorded_events(scenario: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(event, message) of a recorded scenario's frames, for checks and tests."""
    out = []
    for frame in scenario.get("frames") or []:
        data = frame.get("data") if "data" in frame else frame_data(frame.get("raw", ""))
        parsed = parse_event(data) if data is not None else None
        if parsed is not None:
            out.append(parsed)
    return out
