"""The HTTP handlers of the VIVI surface: thin, over ``Emulator``.

They are plain Starlette routes, not FastAPI-decorated ones: the contract file, not FastAPI's
generated schema, is the truth for this surface, and skipping FastAPI's per-request dependency
machinery is most of the speed of the hot path (benchmarks/results.md).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from typing import TypeVar
from urllib.parse import quote

import anyio
from pydantic import BaseModel
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from vivi_emulator.channels import API_KEY_HEADER
from vivi_emulator.channels_api.body import (
    ClientGone,
    headers_of,
    parse_json,
    read_body,
    require_media_type,
)
from vivi_emulator.channels_api.models import BatchRequest, MessageRequest
from vivi_emulator.core import Emulator, Upload
from vivi_emulator.errors import (
    AgentFailed,
    ApiError,
    FieldError,
    ValidationFailed,
    error_response,
    json_bytes,
)
from vivi_emulator.scenarios.script import Script
from vivi_emulator.state import JournalEntry
from vivi_emulator.streaming import EventStream

M = TypeVar("M", bound=BaseModel)

_PREFIX = "/channelsApi/"
_OCTETS = "application/octet-stream"
# Room for multipart boundaries and part headers on top of the files' own bytes.
_MULTIPART_OVERHEAD = 64 * 1024


class _Nothing:
    """The answer to a client that hung up before its request was read: no response at all."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return


class _JsonAnswer:
    """A 200 JSON answer written straight to ASGI (Starlette's Response rebuilds its headers
    on every request; these are the same every time but for the length)."""

    def __init__(self, body: bytes, headers: Sequence[tuple[str, str]]) -> None:
        self.body = body
        self.headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


def _json(payload: object, headers: Sequence[tuple[str, str]] = ()) -> _JsonAnswer:
    return _JsonAnswer(json_bytes(payload), headers)


async def _joined(script: Script, thread_id: str) -> dict[str, str]:
    """The invoke answer of a script: its chunks joined, after the time it takes to stream."""
    if script.broken is not None:
        raise AgentFailed(f"the agent's reply failed: {script.broken}")
    if script.duration > 0:
        await anyio.sleep(script.duration)  # the whole reply takes as long as its stream would
    return {"message": script.reply, "threadId": thread_id}


_Handler = Callable[[Request, JournalEntry], Awaitable[ASGIApp]]


def _journaled(emulator: Emulator, handler: _Handler) -> Callable[[Request], Awaitable[ASGIApp]]:
    """Every request to the VIVI surface gets a journal entry, whatever its answer."""
    journal = emulator.store.journal

    async def endpoint(request: Request) -> ASGIApp:
        scope = request.scope
        entry = journal.open(
            scope["method"], scope["path"], scope["path_params"]["channelId"], scope["headers"]
        )
        try:
            answer = await handler(request, entry)
        except ApiError as exc:
            entry.status = exc.status_code
            entry.error = exc.detail
            raise
        except ClientGone:
            entry.error = "the client hung up before its request was read"
            return _Nothing()
        entry.status = answer.status_code if isinstance(answer, Response) else 200  # ours: 200
        return answer

    return endpoint


async def _read(request: Request, model: type[M], limit: int, entry: JournalEntry) -> M:
    require_media_type(request, "application/json")
    raw = await read_body(request, limit)
    entry.body = raw  # kept as bytes; decoded only when the journal is read
    return parse_json(model, raw)


Endpoint = Callable[[Request], Awaitable[ASGIApp]]


class HotPaths:
    """A shortcut past the router for the two hot operations, POST ``stream`` and ``invoke``.

    The same endpoints as the routes serve them; only Starlette's route matching and per-route
    wrappers are skipped (measured: a fifth of the time of a request, benchmarks/results.md).
    An ApiError becomes its response through ``errors.error_response``, as everywhere else.
    """

    def __init__(self, app: ASGIApp, endpoints: Mapping[str, Endpoint]) -> None:
        self.app = app
        self.endpoints = dict(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path.startswith(_PREFIX):
                channel_id, _, operation = path[len(_PREFIX) :].partition("/")
                endpoint = self.endpoints.get(operation) if channel_id else None
                if endpoint is not None:
                    scope["path_params"] = {"channelId": channel_id}
                    try:
                        answer = await endpoint(Request(scope, receive, send))
                    except ApiError as exc:
                        answer = error_response(exc)
                    await answer(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def channels_api(emulator: Emulator) -> tuple[list[Route], dict[str, Endpoint]]:
    """The VIVI surface's routes, and the hot endpoints for ``HotPaths``."""
    limits = emulator.settings.limits

    def channel_of(request: Request) -> str:
        channel_id: str = request.path_params["channelId"]
        emulator.authenticate(channel_id, headers_of(request).get(API_KEY_HEADER))
        return channel_id

    async def stream(request: Request, entry: JournalEntry) -> ASGIApp:
        channel_id = channel_of(request)
        body = await _read(request, MessageRequest, limits.max_body_bytes, entry)
        script = emulator.script_for(channel_id, body, headers_of(request), entry)
        entry.events = []
        return EventStream(
            script,
            [(k.encode(), v.encode()) for k, v in script.headers],
            on_sent=entry.events.extend,
        )

    async def invoke(request: Request, entry: JournalEntry) -> ASGIApp:
        channel_id = channel_of(request)
        body = await _read(request, MessageRequest, limits.max_body_bytes, entry)
        script = emulator.script_for(channel_id, body, headers_of(request), entry)
        return _json(await _joined(script, body.threadId), script.headers)

    async def batch(request: Request, entry: JournalEntry) -> ASGIApp:
        channel_id = channel_of(request)
        body = await _read(request, BatchRequest, limits.max_body_bytes, entry)
        if len(body.messages) > limits.max_batch_items:
            reason = f"must hold at most {limits.max_batch_items} messages"
            raise ValidationFailed(
                f"invalid request: messages {reason}", [FieldError("messages", reason)]
            )
        # In order: items of one thread see each other's turns (docs/decisions.md, row 13).
        responses = []
        for item in body.messages:
            script = emulator.script_for(channel_id, item, headers_of(request), entry)
            responses.append(await _joined(script, item.threadId))
        return _json({"responses": responses})

    async def upload(request: Request, entry: JournalEntry) -> ASGIApp:
        channel_id = channel_of(request)
        require_media_type(request, "multipart/form-data")
        limit = limits.max_files * limits.max_file_bytes + _MULTIPART_OVERHEAD
        raw = await read_body(request, limit)

        async def replay() -> AsyncGenerator[bytes]:
            yield raw

        parser = MultiPartParser(
            request.headers,
            replay(),
            # The file count is checked by the core, which names the limit in its error.
            max_files=limits.max_files + 1,
            max_fields=100,
            max_part_size=limits.max_body_bytes,
        )
        try:
            form = await parser.parse()
        except MultiPartException as exc:
            if exc.message.startswith("Too many files"):
                reason = f"must hold at most {limits.max_files} files"
                raise ValidationFailed(
                    f"invalid request: files {reason}", [FieldError("files", reason)]
                ) from None
            raise ValidationFailed(
                f"invalid multipart body: {exc.message}", [FieldError("files", exc.message)]
            ) from None
        parts = form.getlist("files")
        try:
            if not parts:
                raise ValidationFailed(
                    "invalid request: files is required (one part named 'files' per file)",
                    [FieldError("files", "is required")],
                )
            # A part with no file name arrives as a text field: that is a value, not a file.
            if not all(isinstance(part, UploadFile) for part in parts):
                raise ValidationFailed(
                    "invalid request: every 'files' part must be a file (with a filename)",
                    [FieldError("files", "must be file parts, not text fields")],
                )
            uploads = [
                Upload(part.filename or "file", part.content_type or _OCTETS, await part.read())
                for part in parts
                if isinstance(part, UploadFile)
            ]
        finally:
            await form.close()
        entry.body = {
            "files": [
                {"name": u.name, "content_type": u.content_type, "size": len(u.data)}
                for u in uploads
            ]
        }
        base = emulator.settings.public_url or f"{request.url.scheme}://{request.url.netloc}"
        base = base.rstrip("/")
        channel_path = quote(channel_id, safe="")
        urls = [
            f"{base}/channelsApi/{channel_path}/files/{file_id}/{quote(name)}"
            for file_id, name in emulator.store_uploads(channel_id, uploads)
        ]
        return _json({"urls": urls})

    async def uploaded_file(request: Request) -> Response:
        params = request.path_params
        stored = emulator.uploaded_file(params["channelId"], params["fileId"], params["fileName"])
        return Response(
            stored.data,
            media_type=stored.content_type,
            headers={"content-disposition": f'inline; filename="{stored.name}"'},
        )

    hot = {"stream": _journaled(emulator, stream), "invoke": _journaled(emulator, invoke)}
    prefix = "/channelsApi/{channelId}"
    routes = [
        Route(f"{prefix}/stream", hot["stream"], methods=["POST"]),
        Route(f"{prefix}/invoke", hot["invoke"], methods=["POST"]),
        Route(f"{prefix}/batch", _journaled(emulator, batch), methods=["POST"]),
        Route(f"{prefix}/files", _journaled(emulator, upload), methods=["POST"]),
        Route(f"{prefix}/files/{{fileId}}/{{fileName}}", uploaded_file, methods=["GET"]),
    ]
    return routes, hot
