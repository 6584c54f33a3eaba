"""The handlers of the VIVI surface: thin, over the service (``service.Emulator``), and free of
any server interface (``core``: an ``Incoming`` in, an ``Outgoing`` out).

A handler reads the request (key, media type, body), hands plain values to the service, and
renders what it answers: SSE writes, a JSON reply, file URLs. It reports what the wire did to
the request's ``Exchange`` (the status, the events sent, the client leaving, an answer
delivered); the service keeps or gives back each turn and writes the one journal entry.

``vivi_routes`` lists the surface for the ASGI app too (Starlette routes whose only use is the
405 of a wrong method, and the route table ``tests/test_app.py`` checks against the contract);
``core_handlers`` is derived from the same table, so the two cannot disagree.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vivi_emulator.calls import Answer, Call, Message, ScriptedStatus
from vivi_emulator.channels_api.body import (
    ClientGone,
    parse_json,
    refuse_declared,
    require_media_type,
)
from vivi_emulator.channels_api.core import NOTHING, Handler, Headers, Incoming, Outgoing
from vivi_emulator.channels_api.models import BatchRequest, MessageRequest
from vivi_emulator.channels_api.uploads import read_uploads
from vivi_emulator.channels_api.waiting import sleep_unless_gone
from vivi_emulator.errors import (
    AgentFailed,
    ApiError,
    FieldError,
    ValidationFailed,
    json_bytes,
    with_length,
)
from vivi_emulator.exchange import Exchange, TurnLease
from vivi_emulator.playback import STREAM_HEADERS, Playback
from vivi_emulator.rendering import Played
from vivi_emulator.service import Emulator
from vivi_emulator.wire.gateway import gateway_failure

# What an uploaded file may do if a browser renders it anyway: nothing (no script, no request).
UPLOADED_FILE_CSP = "default-src 'none'; sandbox"
_JSON = "application/json"
_Journaled = Callable[[Incoming, Exchange], Awaitable[Outgoing]]


def with_headers(base: Headers, extra: tuple[tuple[str, str], ...]) -> Headers:
    """``base`` with a scenario's headers: a header the scenario names replaces the base one
    (names in any case; of two with the same name, the later wins)."""
    if not extra:
        return list(base)
    added = {k.lower(): v for k, v in extra}
    return [*(h for h in base if h[0] not in added), *added.items()]


def json_answer(body: bytes, extra: tuple[tuple[str, str], ...] = ()) -> Outgoing:
    """A 200 JSON answer (with a scenario's headers over its own)."""
    return Outgoing(
        200,
        with_headers([("content-type", _JSON), ("content-length", str(len(body)))], extra),
        body,
    )


def _call(request: Incoming) -> Call:
    return Call(
        request.method, request.path, request.channel, request.headers, time.time(),
        time.monotonic(),
    )  # fmt: skip


def _message(body: MessageRequest) -> Message:
    return Message(body.message, body.threadId, body.userId, tuple(body.attached_files))


def _chaos_note(request: Incoming, fault: str | None) -> None:
    """What chaos injected, for the access line: ``chaos="disconnect after 3 events"``."""
    if fault is not None:
        request.notes.append(f'chaos="{fault}"')


def _broken(answer: Answer) -> AgentFailed:
    """What /invoke and /batch answer for a script whose stream breaks: there is no stream."""
    return AgentFailed(f"the agent's reply failed: {answer.script.broken}")


def _journaled(emulator: Emulator, handler: _Journaled) -> Handler:
    """Every request to the VIVI surface is one ``Exchange``, closed whatever its answer: a
    handler that answers closes it; an error, a client gone, or a cancellation closes it here."""

    async def endpoint(request: Incoming) -> Outgoing:
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
            return NOTHING
        except BaseException:
            await exchange.abandon()
            raise

    return endpoint


async def _read_json(
    emulator: Emulator, request: Incoming, exchange: Exchange, limit: int
) -> bytes:
    """A JSON request's body, its key checked first (401/403/404 before 415/413/422)."""
    await exchange.check_key()
    require_media_type(request.headers, _JSON)
    refuse_declared(request.headers, limit)
    body = exchange.trace.body = await request.peer.body(limit)
    return body


async def _read_message(
    emulator: Emulator, request: Incoming, exchange: Exchange, limit: int
) -> Message:
    """The message of a stream or invoke request: its key checked, its body read and parsed."""
    raw = await _read_json(emulator, request, exchange, limit)
    return _message(parse_json(MessageRequest, raw))


async def _answered(
    request: Incoming, exchange: Exchange, message: Message, *, streaming: bool
) -> TurnLease:
    """The service's answer to a message, as its turn's lease (noted in the access line); a
    scripted intermediary's timeout (wire presets) is raised here, after its wait."""
    lease = await exchange.answer(message)
    _chaos_note(request, lease.answer.fault)
    if lease.answer.script.wire is not None:
        await _gateway(request, lease, streaming)
    return lease


async def _gateway(request: Incoming, lease: TurnLease, streaming: bool) -> None:
    """A scripted intermediary's timeout (wire presets, docs/wire.md): the client gets the
    intermediary's answer after the wait (the origin got the message: it is delivered)."""
    failure = gateway_failure(lease.answer.script, streaming)
    if failure is None:
        return
    lease.delivered()
    seconds, timeout = failure
    if await sleep_unless_gone(request.peer.gone, seconds):
        raise ClientGone
    raise timeout


async def _waited(request: Incoming, answer: Answer) -> None:
    """The time the reply would take to stream, waited out (or ClientGone if the client hangs
    up meanwhile: the work stops there)."""
    duration = answer.script.duration
    if duration > 0 and await sleep_unless_gone(request.peer.gone, duration):
        raise ClientGone


def _stream(emulator: Emulator) -> _Journaled:
    limit = emulator.settings.limits.max_body_bytes

    async def stream(request: Incoming, exchange: Exchange) -> Outgoing:
        message = await _read_message(emulator, request, exchange, limit)
        lease = await _answered(request, exchange, message, streaming=True)

        async def finished(played: Played) -> None:
            if played.sent_events or not played.client_left:
                lease.delivered()
            exchange.report(200, played, client_left=played.client_left)
            await exchange.close()  # the lease outlives the handler: settled here

        script = lease.answer.script
        playback = Playback(emulator.rendered(script), on_finish=finished)
        return Outgoing(200, with_headers(STREAM_HEADERS, script.headers), stream=playback)

    return stream


def _invoke(emulator: Emulator) -> _Journaled:
    limit = emulator.settings.limits.max_body_bytes

    async def invoke(request: Incoming, exchange: Exchange) -> Outgoing:
        message = await _read_message(emulator, request, exchange, limit)
        lease = await _answered(request, exchange, message, streaming=False)
        answer = lease.answer
        if answer.script.broken is not None:
            lease.delivered()
            raise _broken(answer)
        await _waited(request, answer)
        lease.delivered()
        exchange.report(200)
        await exchange.close()  # the turn and the journal, one step
        body = emulator.rendered(answer.script).invoke_body(message.thread_id)
        return json_answer(body, answer.script.headers)

    return invoke


def _batch(emulator: Emulator) -> _Journaled:
    limits = emulator.settings.limits

    async def batch(request: Incoming, exchange: Exchange) -> Outgoing:
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
                    await _waited(request, answer)
                    responses.append(
                        {"message": answer.script.reply, "threadId": answer.message.thread_id}
                    )
                lease.delivered()
            if answer.script.broken is not None:
                raise _broken(answer)
        exchange.report(200)
        await exchange.close()
        return json_answer(json_bytes({"responses": responses}), answer.limit_headers)

    return batch


def _upload(emulator: Emulator) -> _Journaled:
    settings = emulator.settings

    async def upload(request: Incoming, exchange: Exchange) -> Outgoing:
        call = exchange.call
        await exchange.check_key(now=True)
        require_media_type(request.headers, "multipart/form-data")
        uploads = await read_uploads(request, settings.limits)
        exchange.trace.body = json_bytes(
            {
                "files": [
                    {"name": u.name, "content_type": u.content_type, "size": len(u.data)}
                    for u in uploads
                ]
            }
        ).decode()
        base = (settings.public_url or request.base_url).rstrip("/")
        channel_path = quote(call.channel, safe="")
        urls = [
            f"{base}/channelsApi/{channel_path}/files/{file_id}/{quote(name)}"
            for file_id, name in await emulator.files.upload(
                call.channel, uploads, exchange.generation
            )
        ]
        exchange.report(200)
        await exchange.close()
        return json_answer(json_bytes({"urls": urls}))

    return upload


def _uploaded_file(emulator: Emulator) -> Handler:
    async def uploaded_file(request: Incoming) -> Outgoing:
        file_id, _, name = request.operation.removeprefix("files/").partition("/")
        stored = await emulator.files.uploaded_file(request.channel, file_id, name)
        # A download, never a page of this origin (docs/decisions.md, row 37): an uploaded HTML
        # or SVG file would otherwise run script beside the playground and the control API.
        headers = {
            "content-disposition": f'attachment; filename="{stored.name}"',
            "x-content-type-options": "nosniff",
            "content-security-policy": UPLOADED_FILE_CSP,
        }
        return Outgoing(200, with_length(headers, stored.data, stored.content_type), stored.data)

    return uploaded_file


def core_handlers(emulator: Emulator) -> dict[tuple[str, str], Handler]:
    """The VIVI surface's operations, for ``core.Core``: (method, operation) to handler."""
    return {
        ("POST", "stream"): _journaled(emulator, _stream(emulator)),
        ("POST", "invoke"): _journaled(emulator, _invoke(emulator)),
        ("POST", "batch"): _journaled(emulator, _batch(emulator)),
        ("POST", "files"): _journaled(emulator, _upload(emulator)),
        ("GET", "files/*"): _uploaded_file(emulator),
    }


# The operations as route paths: the route table the ASGI app and the contract test read.
ROUTE_PATHS = {
    "stream": "/channelsApi/{channelId}/stream",
    "invoke": "/channelsApi/{channelId}/invoke",
    "batch": "/channelsApi/{channelId}/batch",
    "files": "/channelsApi/{channelId}/files",
    "files/*": "/channelsApi/{channelId}/files/{fileId}/{fileName}",
}


async def _served_by_the_core(_: Request) -> Response:
    # The core answers every request these routes match with their method before the router
    # sees it (app.ViviApp); the routes exist for the router's 405 and for the route table.
    raise RuntimeError("a VIVI operation reached the router: it is the core's")


def vivi_routes(handlers: dict[tuple[str, str], Handler]) -> list[Route]:
    """The VIVI surface as Starlette routes, derived from the core's handlers."""
    return [
        Route(ROUTE_PATHS[operation], _served_by_the_core, methods=[method])
        for method, operation in handlers
    ]
