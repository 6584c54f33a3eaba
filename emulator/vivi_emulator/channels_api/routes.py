"""The HTTP handlers of the VIVI surface: thin, over the service (``service.Emulator``).

A handler reads the request (key, media type, body), hands plain values to the service, and
renders what it answers: SSE frames, a JSON reply, file URLs. It reports what the wire did to
the request's ``Exchange`` (the status, the events sent, the client leaving, an answer
delivered); the service keeps or gives back each turn and writes the one journal entry.

They are plain Starlette routes, not FastAPI-decorated ones: the contract file, not FastAPI's
generated schema, is the truth for this surface, and skipping FastAPI's per-request dependency
machinery is most of the speed of the hot path (benchmarks/results.md).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from vivi_emulator.access_log import add_note
from vivi_emulator.calls import Answer, Call, Message, ScriptedStatus
from vivi_emulator.channels_api.answers import JsonAnswer, Nothing, with_headers
from vivi_emulator.channels_api.body import (
    ClientGone,
    headers_of,
    parse_json,
    read_body,
    require_media_type,
)
from vivi_emulator.channels_api.models import BatchRequest, MessageRequest
from vivi_emulator.channels_api.uploads import read_uploads
from vivi_emulator.channels_api.waiting import sleep_unless_gone
from vivi_emulator.errors import (
    AgentFailed,
    ApiError,
    FieldError,
    ValidationFailed,
    error_response,
    json_bytes,
)
from vivi_emulator.exchange import Exchange, TurnLease
from vivi_emulator.paths import parse_api_path
from vivi_emulator.rendering import Played
from vivi_emulator.service import Emulator
from vivi_emulator.streaming import STREAM_HEADERS, EventStream
from vivi_emulator.wire.gateway import gateway_failure

Endpoint = Callable[[Request], Awaitable[ASGIApp]]

# What an uploaded file may do if a browser renders it anyway: nothing (no script, no request).
UPLOADED_FILE_CSP = "default-src 'none'; sandbox"
_Handler = Callable[[Request, Exchange], Awaitable[ASGIApp]]


def _call(request: Request) -> Call:
    scope = request.scope
    channel: str = scope["path_params"]["channelId"]
    headers = headers_of(request)
    return Call(scope["method"], scope["path"], channel, headers, time.time(), time.monotonic())


def _message(body: MessageRequest) -> Message:
    return Message(body.message, body.threadId, body.userId, tuple(body.attached_files))


def _chaos_note(request: Request, fault: str | None) -> None:
    """What chaos injected, for the access line: ``chaos="disconnect after 3 events"``."""
    if fault is not None:
        add_note(request.scope, f'chaos="{fault}"')


def _broken(answer: Answer) -> AgentFailed:
    """What /invoke and /batch answer for a script whose stream breaks: there is no stream."""
    return AgentFailed(f"the agent's reply failed: {answer.script.broken}")


def _journaled(emulator: Emulator, handler: _Handler) -> Endpoint:
    """Every request to the VIVI surface is one ``Exchange``, closed whatever its answer: a
    handler that answers closes it; an error, a client gone, or a cancellation closes it here."""

    async def endpoint(request: Request) -> ASGIApp:
        exchange = emulator.exchange(_call(request))
        try:
            return await handler(request, exchange)
        except ApiError as exc:
            error = await exchange.fail(exc)
            if isinstance(error, ScriptedStatus):
                _chaos_note(request, error.item.fault)
            raise error from None
        except ClientGone:
            await exchange.left()
            return Nothing()
        except BaseException:
            await exchange.abandon()
            raise

    return endpoint


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
            parsed = parse_api_path(scope["path"])
            endpoint = self.endpoints.get(parsed.operation) if parsed is not None else None
            if endpoint is not None and parsed is not None:
                scope["path_params"] = {"channelId": parsed.channel}
                try:
                    answer = await endpoint(Request(scope, receive, send))
                except ApiError as exc:
                    answer = error_response(exc)
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _read_json(emulator: Emulator, request: Request, exchange: Exchange, limit: int) -> bytes:
    """A JSON request's body, its key checked first (401/403/404 before 415/413/422)."""
    call = exchange.call
    await emulator.check_key(call.channel, call.api_key)
    require_media_type(request, "application/json")
    body = exchange.trace.body = await read_body(request, limit)
    return body


async def _read_message(
    emulator: Emulator, request: Request, exchange: Exchange, limit: int
) -> Message:
    """The message of a stream or invoke request: its key checked, its body read and parsed."""
    raw = await _read_json(emulator, request, exchange, limit)
    return _message(parse_json(MessageRequest, raw))


async def _answered(
    request: Request, exchange: Exchange, message: Message, *, streaming: bool
) -> TurnLease:
    """The service's answer to a message, as its turn's lease (noted in the access line); a
    scripted intermediary's timeout (wire presets) is raised here, after its wait."""
    lease = await exchange.answer(message)
    _chaos_note(request, lease.answer.fault)
    if lease.answer.script.wire is not None:
        await _gateway(request, lease, streaming)
    return lease


async def _gateway(request: Request, lease: TurnLease, streaming: bool) -> None:
    """A scripted intermediary's timeout (wire presets, docs/wire.md): the client gets the
    intermediary's answer after the wait (the origin got the message: it is delivered)."""
    failure = gateway_failure(lease.answer.script, streaming)
    if failure is None:
        return
    lease.delivered()
    seconds, timeout = failure
    if await sleep_unless_gone(request.receive, seconds):
        raise ClientGone
    raise timeout


async def _joined(request: Request, answer: Answer) -> dict[str, str]:
    """The invoke answer of a script: its chunks joined, after the time it takes to stream
    (or raise ClientGone if the client hangs up meanwhile: the work stops there)."""
    script = answer.script
    if script.duration > 0 and await sleep_unless_gone(request.receive, script.duration):
        raise ClientGone
    return {"message": script.reply, "threadId": answer.message.thread_id}


def _stream(emulator: Emulator) -> _Handler:
    limit = emulator.settings.limits.max_body_bytes

    async def stream(request: Request, exchange: Exchange) -> ASGIApp:
        message = await _read_message(emulator, request, exchange, limit)
        lease = await _answered(request, exchange, message, streaming=True)

        async def finished(played: Played) -> None:
            if played.sent_events or not played.client_left:
                lease.delivered()
            exchange.report(200, played, client_left=played.client_left)
            await exchange.close()  # the lease outlives the handler: settled here

        return EventStream(
            emulator.rendered(lease.answer.script),
            with_headers(STREAM_HEADERS, lease.answer.script.headers),
            on_finish=finished,
        )

    return stream


def _invoke(emulator: Emulator) -> _Handler:
    limit = emulator.settings.limits.max_body_bytes

    async def invoke(request: Request, exchange: Exchange) -> ASGIApp:
        message = await _read_message(emulator, request, exchange, limit)
        lease = await _answered(request, exchange, message, streaming=False)
        answer = lease.answer
        if answer.script.broken is not None:
            lease.delivered()
            raise _broken(answer)
        reply = await _joined(request, answer)
        lease.delivered()
        exchange.report(200)
        await exchange.close()  # the turn and the journal, one step
        return JsonAnswer(json_bytes(reply), answer.script.headers)

    return invoke


def _batch(emulator: Emulator) -> _Handler:
    limits = emulator.settings.limits

    async def batch(request: Request, exchange: Exchange) -> ASGIApp:
        raw = await _read_json(emulator, request, exchange, limits.max_body_bytes)
        body = parse_json(BatchRequest, raw)
        if len(body.messages) > limits.max_batch_items:
            reason = f"must hold at most {limits.max_batch_items} messages"
            raise ValidationFailed(
                f"invalid request: messages {reason}", [FieldError("messages", reason)]
            )
        # In order: items of one thread see each other's turns (docs/decisions.md, row 13):
        # each item's lease is settled before the next item opens its turn.
        responses = []
        for item in body.messages:
            lease = await _answered(request, exchange, _message(item), streaming=False)
            async with lease as answer:
                if answer.script.broken is None:
                    responses.append(await _joined(request, answer))
                lease.delivered()
            if answer.script.broken is not None:
                raise _broken(answer)
        exchange.report(200)
        await exchange.close()
        return JsonAnswer(json_bytes({"responses": responses}), ())

    return batch


def _upload(emulator: Emulator) -> _Handler:
    settings = emulator.settings

    async def upload(request: Request, exchange: Exchange) -> ASGIApp:
        call = exchange.call
        await emulator.check_key_now(call.channel, call.api_key)
        require_media_type(request, "multipart/form-data")
        uploads = await read_uploads(request, settings.limits)
        exchange.trace.body = json_bytes(
            {
                "files": [
                    {"name": u.name, "content_type": u.content_type, "size": len(u.data)}
                    for u in uploads
                ]
            }
        ).decode()
        base = settings.public_url or f"{request.url.scheme}://{request.url.netloc}"
        base = base.rstrip("/")
        channel_path = quote(call.channel, safe="")
        urls = [
            f"{base}/channelsApi/{channel_path}/files/{file_id}/{quote(name)}"
            for file_id, name in await emulator.upload(call.channel, uploads)
        ]
        exchange.report(200)
        await exchange.close()
        return JsonAnswer(json_bytes({"urls": urls}), ())

    return upload


def _uploaded_file(emulator: Emulator) -> Callable[[Request], Awaitable[Response]]:
    async def uploaded_file(request: Request) -> Response:
        params = request.path_params
        stored = await emulator.uploaded_file(
            params["channelId"], params["fileId"], params["fileName"]
        )
        # A download, never a page of this origin (docs/decisions.md, row 37): an uploaded HTML
        # or SVG file would otherwise run script beside the playground and the control API.
        return Response(
            stored.data,
            media_type=stored.content_type,
            headers={
                "content-disposition": f'attachment; filename="{stored.name}"',
                "x-content-type-options": "nosniff",
                "content-security-policy": UPLOADED_FILE_CSP,
            },
        )

    return uploaded_file


def channels_api(emulator: Emulator) -> tuple[list[Route], dict[str, Endpoint]]:
    """The VIVI surface's routes, and the hot endpoints for ``HotPaths``."""
    hot = {
        "stream": _journaled(emulator, _stream(emulator)),
        "invoke": _journaled(emulator, _invoke(emulator)),
    }
    prefix = "/channelsApi/{channelId}"
    routes = [
        Route(f"{prefix}/stream", hot["stream"], methods=["POST"]),
        Route(f"{prefix}/invoke", hot["invoke"], methods=["POST"]),
        Route(f"{prefix}/batch", _journaled(emulator, _batch(emulator)), methods=["POST"]),
        Route(f"{prefix}/files", _journaled(emulator, _upload(emulator)), methods=["POST"]),
        Route(f"{prefix}/files/{{fileId}}/{{fileName}}", _uploaded_file(emulator), methods=["GET"]),
    ]
    return routes, hot
