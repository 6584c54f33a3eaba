"""The HTTP handlers of the VIVI surface: thin, over ``Emulator``.

They are plain Starlette routes, not FastAPI-decorated ones: the contract file, not FastAPI's
generated schema, is the truth for this surface, and skipping FastAPI's per-request dependency
machinery is most of the speed of the hot path (benchmarks/results.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

import anyio
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator.channels import API_KEY_HEADER
from emulator.channels_api.body import (
    ClientGone,
    json_body,
    read_body,
    require_media_type,
)
from emulator.channels_api.models import BatchRequest, MessageRequest
from emulator.core import Emulator, Upload
from emulator.errors import AgentFailed, FieldError, ValidationFailed, json_bytes
from emulator.scenarios.script import Script
from emulator.streaming import EventStream

_JSON = "application/json"
_OCTETS = "application/octet-stream"
# Room for multipart boundaries and part headers on top of the files' own bytes.
_MULTIPART_OVERHEAD = 64 * 1024


class _Nothing:
    """The answer to a client that hung up before its request was read: no response at all."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return


def _json(payload: object, headers: Sequence[tuple[str, str]] = ()) -> Response:
    return Response(json_bytes(payload), media_type=_JSON, headers=dict(headers))


async def _joined(script: Script, thread_id: str) -> dict[str, str]:
    """The invoke answer of a script: its chunks joined, after the time it takes to stream."""
    if script.broken is not None:
        raise AgentFailed(f"the agent's reply failed: {script.broken}")
    if script.duration > 0:
        await anyio.sleep(script.duration)  # the whole reply takes as long as its stream would
    return {"message": script.reply, "threadId": thread_id}


def routes(emulator: Emulator) -> list[Route]:
    limits = emulator.settings.limits

    def channel_of(request: Request) -> str:
        channel_id: str = request.path_params["channelId"]
        emulator.authenticate(channel_id, request.headers.get(API_KEY_HEADER))
        return channel_id

    async def stream(request: Request) -> ASGIApp:
        channel_id = channel_of(request)
        try:
            body = await json_body(request, MessageRequest, limits.max_body_bytes)
        except ClientGone:
            return _Nothing()
        script = emulator.script_for(channel_id, body, request.headers)
        return EventStream(script, [(k.encode(), v.encode()) for k, v in script.headers])

    async def invoke(request: Request) -> ASGIApp:
        channel_id = channel_of(request)
        try:
            body = await json_body(request, MessageRequest, limits.max_body_bytes)
        except ClientGone:
            return _Nothing()
        script = emulator.script_for(channel_id, body, request.headers)
        return _json(await _joined(script, body.threadId), script.headers)

    async def batch(request: Request) -> ASGIApp:
        channel_id = channel_of(request)
        try:
            body = await json_body(request, BatchRequest, limits.max_body_bytes)
        except ClientGone:
            return _Nothing()
        if len(body.messages) > limits.max_batch_items:
            reason = f"must hold at most {limits.max_batch_items} messages"
            raise ValidationFailed(
                f"invalid request: messages {reason}", [FieldError("messages", reason)]
            )
        # In order: items of one thread see each other's turns (docs/decisions.md, row 13).
        responses = [
            await _joined(emulator.script_for(channel_id, item, request.headers), item.threadId)
            for item in body.messages
        ]
        return _json({"responses": responses})

    async def upload(request: Request) -> ASGIApp:
        channel_id = channel_of(request)
        require_media_type(request, "multipart/form-data")
        limit = limits.max_files * limits.max_file_bytes + _MULTIPART_OVERHEAD
        try:
            raw = await read_body(request, limit)
        except ClientGone:
            return _Nothing()

        async def replay() -> object:
            yield raw

        parser = MultiPartParser(
            request.headers,
            replay(),  # type: ignore[arg-type]
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

    prefix = "/channelsApi/{channelId}"
    return [
        Route(f"{prefix}/stream", stream, methods=["POST"]),
        Route(f"{prefix}/invoke", invoke, methods=["POST"]),
        Route(f"{prefix}/batch", batch, methods=["POST"]),
        Route(f"{prefix}/files", upload, methods=["POST"]),
        Route(f"{prefix}/files/{{fileId}}/{{fileName}}", uploaded_file, methods=["GET"]),
    ]
