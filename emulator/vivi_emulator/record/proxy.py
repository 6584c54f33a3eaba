"""The recording proxy: forward to a real VIVI deployment, stream back, record.

Every request is forwarded to the upstream as it came (its raw path, its header bytes, the API
key included: the upstream needs it), and the answer streams back to the client chunk by chunk
as it arrives, never buffered, with the upstream's header bytes unchanged. A client that hangs up
closes the upstream request too. What was seen is written by
:class:`~vivi_emulator.record.recording.Recording`, off the event loop.

Bounded like the VIVI surface (``settings.limits``): a request body over the limit of its
operation is refused with the emulator's JSON 413 and not forwarded; an answer is kept for the
recording up to ``MAX_ANSWER_BYTES`` (past it, forwarded and not recorded).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import anyio
import httpx
from starlette.types import Message, Receive, Scope, Send

from vivi_emulator.paths import API_KEY_HEADER, parse_api_path
from vivi_emulator.record.recording import (
    HOP_BY_HOP,
    MAX_ANSWER_BYTES,
    Exchange,
    Recording,
    TimedFrames,
)
from vivi_emulator.record.secrets import client_secrets
from vivi_emulator.redaction import Redactor
from vivi_emulator.settings import Limits

_log = logging.getLogger("vivi_emulator.record")

_KEY_HEADER = API_KEY_HEADER.encode("latin-1")
# Not forwarded to the upstream: hop-by-hop, and the body's length (httpx sets it); the proxy
# asks for an uncompressed answer, so the bytes recorded are the bytes a client reads.
_NOT_FORWARDED = HOP_BY_HOP | {"content-length", "accept-encoding"}
# Not sent back: the proxy's own server writes these.
_NOT_RETURNED = HOP_BY_HOP | {"date", "server"}
# A multipart body's own bytes (boundaries, part headers) beyond its files.
_MULTIPART_OVERHEAD = 64 * 1024


def body_limit(path: str, limits: Limits) -> int:
    """The largest request body the VIVI surface takes on ``path``: an upload's files (and
    their multipart framing), or any other body."""
    parsed = parse_api_path(path)
    if parsed is not None and parsed.operation == "files":
        return limits.max_files * limits.max_file_bytes + _MULTIPART_OVERHEAD
    return limits.max_body_bytes


def safe_upstream(url: str) -> str:
    """The upstream's URL without user or password, for the recording and the logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _header_name(raw: bytes) -> str:
    return raw.decode("latin-1").lower()


class RecordingProxy:
    """The ASGI application: forward, stream back, record.

    ``on_exchange`` is called with each exchange once the proxy is done with it (answered,
    recorded or not): a hook for whoever needs to know, such as a test.
    """

    def __init__(
        self,
        upstream: str,
        folder: Path,
        *,
        timeout: float | None = 300.0,
        on_exchange: Callable[[Exchange], None] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.redact = Redactor()
        self.limits = limits or Limits()
        self.recording = Recording(
            folder, safe_upstream(upstream), self.redact, max_threads=self.limits.max_threads
        )
        self.timeout = timeout
        self.on_exchange = on_exchange
        self.client: httpx.AsyncClient | None = None

    def _client(self) -> httpx.AsyncClient:
        if self.client is None:
            self.client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout, connect=30.0), follow_redirects=False
            )
        return self.client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await self._body(scope, receive, send)
        if body is None:
            return
        self._learn_key(scope["headers"])
        for secret in client_secrets(scope["headers"], scope.get("query_string", b""), body):
            self.redact.add(secret)
        exchange = Exchange(
            method=scope["method"],
            path=scope["path"],
            request_body=body,
            started=time.monotonic(),
            at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        try:
            await self._forward(scope, exchange, receive, send)
        finally:
            if exchange.client_gone:
                _log.info("not recorded: the client hung up on %s", exchange.path)
            if self.on_exchange is not None:
                self.on_exchange(exchange)

    async def _body(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The request's body, within the VIVI surface's limit; None when the client left or
        the body is over the limit (then answered 413, as the emulator would)."""
        limit = body_limit(scope["path"], self.limits)
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if len(body) > limit:
                _log.warning("not forwarded: a body over %d bytes on %s", limit, scope["path"])
                detail = json.dumps({"detail": f"the request body is over {limit} bytes"})
                await _send_all(send, 413, [("content-type", "application/json")], detail.encode())
                return None
            if not message.get("more_body", False):
                return bytes(body)

    def _learn_key(self, headers: Iterable[tuple[bytes, bytes]]) -> None:
        """Remember the request's API key, to remove it from everything written."""
        for name, value in headers:
            if _header_name(name) == API_KEY_HEADER:
                # Header bytes have no declared encoding: a client may have sent UTF-8.
                self.redact.add(value.decode("latin-1"))
                with contextlib.suppress(UnicodeDecodeError):
                    self.redact.add(value.decode("utf-8"))

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

    def _request(self, scope: Scope, body: bytes) -> httpx.Request:
        """The request to the upstream: the client's, byte for byte.

        The raw path (not the decoded one: ``%2F`` stays), and the header bytes as received: a
        header value may hold any byte but a control character, and is not ours to re-encode.
        """
        path = scope.get("raw_path") or scope["path"].encode("utf-8")
        query = scope.get("query_string", b"")
        target = path + (b"?" + query if query else b"")
        headers = [(k, v) for k, v in scope["headers"] if _header_name(k) not in _NOT_FORWARDED]
        return self._client().build_request(
            scope["method"],
            self.upstream + target.decode("latin-1"),
            headers=[*headers, (b"accept-encoding", b"identity")],
            content=body,
        )

    async def _forward(
        self, scope: Scope, exchange: Exchange, receive: Receive, send: Send
    ) -> None:
        request = self._request(scope, exchange.request_body)
        try:
            response = await self._client().send(request, stream=True)
        except httpx.HTTPError as exc:
            _log.warning("upstream did not answer %s %s: %s", exchange.method, exchange.path, exc)
            exchange.status = 502
            exchange.complete = False
            detail = json.dumps({"detail": f"the upstream did not answer ({type(exc).__name__})"})
            await _send_all(send, 502, [("content-type", "application/json")], detail.encode())
            return
        exchange.status = response.status_code
        exchange.headers = [
            (k, v) for k, v in response.headers.multi_items() if k.lower() not in HOP_BY_HOP
        ]
        if exchange.is_stream:
            exchange.frames = TimedFrames(exchange.started)
        returned = [(k, v) for k, v in response.headers.raw if _header_name(k) not in _NOT_RETURNED]
        try:
            await self._stream_back(response, exchange, returned, receive, send)
        finally:
            await response.aclose()

    async def _stream_back(
        self,
        response: httpx.Response,
        exchange: Exchange,
        headers: list[tuple[bytes, bytes]],
        receive: Receive,
        send: Send,
    ) -> None:
        start: Message = {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": headers,
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
            length = _content_length(response)
            try:
                await send(start)
                async for chunk in response.aiter_raw():
                    exchange.keep(chunk, time.monotonic())
                    if length is not None and exchange.answer_bytes >= length and not finished:
                        # The client has its whole answer with this chunk: record it first.
                        finished = True
                        await self._record(exchange)
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except httpx.HTTPError as exc:
                # The upstream cut the answer: cut the client's too (no clean end of the body).
                _log.warning("upstream cut %s %s: %s", exchange.method, exchange.path, exc)
                exchange.complete = False
                await self._record(exchange)
            except OSError:
                exchange.client_gone = True
            else:
                # Written before the client's answer ends: once a client has its whole answer,
                # the recording holds it.
                if not finished:
                    finished = True
                    await self._record(exchange)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            finally:
                tasks.cancel_scope.cancel()

    async def _record(self, exchange: Exchange) -> None:
        now = time.monotonic()
        exchange.elapsed_ms = (now - exchange.started) * 1000.0
        if exchange.frames is not None:
            exchange.frames.finish(now)
        if exchange.oversize:
            _log.warning(
                "not recorded: the answer to %s is %d bytes, over %d",
                exchange.path,
                exchange.answer_bytes,
                MAX_ANSWER_BYTES,
            )
            return
        scenario = self.recording.add(exchange)
        if scenario is None:
            return
        await self.recording.save()
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


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


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
