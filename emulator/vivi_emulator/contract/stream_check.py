"""The event-by-event stream check, inside a schemathesis run: ``stream_event_conformance``.

schemathesis reads an event stream whole (up to its event limit or request timeout) and then
validates it (its issue #3633), so a bad event in the middle of a long stream is reported late,
a stream that never ends only as "cut short", and an event that never ends not at all. Here the
stream is read *as it arrives*, through :class:`~vivi_emulator.contract.stream.StreamWatch`, in
the one request schemathesis sends (never a second one: against a real service that would be a
second agent run):

- against a URL, a ``requests`` adapter mounted on the run's session reads the socket chunk by
  chunk and stops at the first bad event or bound; schemathesis gets the bytes read;
- in-process, the emulator is wrapped in an ASGI middleware that watches each body message
  and ends the answer at the first bad event or bound (the emulator sees a client that left).

The run's schema sends through a transport of its own (:func:`watching`, :func:`watched`), which
notes which operation each request is for; the verdict rides on the request object to the
check, which reports it with the event's index, raw bytes and schema path. ``--compare`` runs the
same check on a recorded body, read in one piece.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import anyio
import requests
import requests.adapters
import schemathesis
import urllib3
from schemathesis.core.failures import Failure
from schemathesis.core.transport import STREAM_CUT_SHORT_ATTRIBUTE, is_event_stream
from schemathesis.python import asgi
from schemathesis.transport.requests import REQUESTS_TRANSPORT, RequestsTransport
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from vivi_emulator.contract.stream import (
    BadEvent,
    Bounds,
    Exceeded,
    ItemSchemas,
    StreamWatch,
    Verdict,
    describe,
)

CHECK_NAME = "stream_event_conformance"
_PROBE = "_vivi_stream_probe"
IN_PROCESS = f"http://{asgi.HOST}"
_READ_SIZE = 64 * 1024


class StreamEventFailure(Failure):
    """A stream's first bad event, or a stream past its bound."""

    checks = (CHECK_NAME,)
    kind_title = "SSE stream event"

    def __init__(self, *, operation: str, verdict: Verdict) -> None:
        title, message = describe(verdict)
        super().__init__(operation=operation, title=title, message=message)
        self.verdict = verdict
        self.schema_path = verdict.schema_path if isinstance(verdict, BadEvent) else ""

    @property
    def _unique_key(self) -> str:
        return self.title


@dataclass
class Probe:
    """One request's watch: which operation it is for; the watch once the answer is a stream."""

    label: str
    watch: StreamWatch | None = None


class _Run:
    """What a run's adapters need: the item schemas, the bounds, and the request each worker
    thread is sending (set by the transport, read by the adapter in the same call)."""

    def __init__(self, document: Mapping[str, Any], bounds: Bounds) -> None:
        self.schemas = ItemSchemas(document)
        self.bounds = bounds
        self._current = threading.local()

    def sending(self, label: str) -> None:
        self._current.probe = Probe(label)

    def probe(self) -> Probe:
        probe = getattr(self._current, "probe", None)
        return probe if isinstance(probe, Probe) else Probe("")

    def watch(self, probe: Probe, status: int, content_type: str | None) -> StreamWatch | None:
        if not is_event_stream(content_type):
            return None
        schema = self.schemas.find(probe.label, status)
        if schema is None:
            return None
        probe.watch = StreamWatch(schema, self.bounds, time.monotonic())
        return probe.watch


# --- against a URL ----------------------------------------------------------------------------


class WatchingAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, reading an event stream as it arrives (the others as requests does)."""

    def __init__(self, run: _Run) -> None:
        super().__init__()
        self.run = run

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, stream: bool = False, **kwargs: Any
    ) -> requests.Response:
        probe = self.run.probe()
        setattr(request, _PROBE, probe)
        kwargs["timeout"] = _read_timeout(kwargs.get("timeout"), self.run.bounds.seconds)
        response = super().send(request, stream=True, **kwargs)
        watch = self.run.watch(probe, response.status_code, response.headers.get("content-type"))
        if watch is None:
            if not stream:
                response.content  # noqa: B018 - read now, as requests does without stream
            return response
        body = _read(response, watch)
        # What schemathesis reads: the bytes kept, decoded, framed by their own end.
        headers = response.raw.headers.copy()
        for name in ("content-length", "transfer-encoding", "content-encoding"):
            headers.discard(name)
        response.raw = urllib3.HTTPResponse(
            body=io.BytesIO(body),
            headers=headers,
            status=response.status_code,
            version=response.raw.version,
            reason=response.reason,
            preload_content=False,
        )
        if isinstance(watch.verdict, Exceeded):
            # Only the first events are here: schemathesis must not judge the stream as a whole.
            setattr(response, STREAM_CUT_SHORT_ATTRIBUTE, True)
        return response


def _read_timeout(timeout: Any, bound: float) -> Any:
    """Each read waits at most the stream's time bound: a silent stream is cut at its bound
    (schemathesis' own timeout is a little longer, so that the check reports first)."""
    if isinstance(timeout, tuple):
        connect, read = timeout
        return (connect, bound if read is None else min(read, bound))
    return bound if timeout is None else min(timeout, bound)


def _read(response: requests.Response, watch: StreamWatch) -> bytes:
    """Read the stream until it ends or the watch has a verdict; the bytes kept."""
    body = bytearray()
    try:
        while not watch.done:
            chunk = response.raw.read1(_READ_SIZE, decode_content=True)
            if not chunk:
                watch.finish(time.monotonic())
                break
            body += chunk[: watch.feed(chunk, time.monotonic())]
    except ReadTimeoutError:
        # Silent for the whole bound: it is passed.
        watch.timed_out(time.monotonic())
    except ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    finally:
        response.close()
    return bytes(body)


# --- in-process -------------------------------------------------------------------------------


class _Cut(OSError):
    """Raised into the app's ``send`` once the stream has its verdict: to the emulator, the
    client left (it stops the stream and journals the hang-up)."""


class _Answer:
    """One in-process answer on its way out, its body watched when it is a stream."""

    def __init__(self, run: _Run, probe: Probe, send: Send) -> None:
        self.run = run
        self.probe = probe
        self._send = send
        self.timer = anyio.CancelScope()
        self.ended = False

    async def send(self, message: Message) -> None:
        watch = self.probe.watch
        if message["type"] == "http.response.start":
            headers = {k.decode("latin-1").lower(): v for k, v in message["headers"]}
            content_type = headers.get("content-type", b"").decode("latin-1")
            if self.run.watch(self.probe, message["status"], content_type):
                self.timer.deadline = anyio.current_time() + self.run.bounds.seconds
        elif watch is not None and message["type"] == "http.response.body":
            await self._body(watch, message)
            return
        await self._send(message)

    async def _body(self, watch: StreamWatch, message: Message) -> None:
        if watch.done:
            raise _Cut
        body = message.get("body", b"")
        kept = watch.feed(body, time.monotonic())
        more = bool(message.get("more_body", False))
        if not more:
            watch.finish(time.monotonic())
        self.ended = not more or watch.done
        await self._send(
            {"type": "http.response.body", "body": body[:kept], "more_body": not self.ended}
        )
        if watch.done:
            raise _Cut

    async def timed_out(self) -> None:
        """The time bound passed: the stream ends here."""
        watch = self.probe.watch
        if watch is not None and not self.ended:
            watch.timed_out(time.monotonic())
            self.ended = True
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})


class WatchedApp:
    """An ASGI middleware: the app's event streams watched as they are written.

    ``pending`` is the probe of the request on its way in: one slot, as the run sends one
    request at a time (``workers: 1``)."""

    def __init__(self, app: ASGIApp, run: _Run) -> None:
        self.app = app
        self.run = run
        self.pending: Probe | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # the lifespan
            await self.app(scope, receive, send)
            return
        probe, self.pending = self.pending, None
        if probe is None:
            await self.app(scope, receive, send)
            return
        answer = _Answer(self.run, probe, send)
        with answer.timer, suppress(_Cut):
            await self.app(scope, receive, answer.send)
        if answer.timer.cancelled_caught:
            await answer.timed_out()


class _ASGIWatching(requests.adapters.BaseAdapter):
    """schemathesis' in-process adapter, telling the middleware which request comes."""

    def __init__(self, inner: requests.adapters.BaseAdapter, app: WatchedApp) -> None:
        super().__init__()
        self.inner = inner
        self.app = app

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        probe = self.app.run.probe()
        setattr(request, _PROBE, probe)
        self.app.pending = probe
        try:
            return self.inner.send(request, *args, **kwargs)
        finally:
            self.app.pending = None

    def close(self) -> None:
        self.inner.close()


# --- the hook, the check, the run -------------------------------------------------------------


class _Transport(RequestsTransport):
    """schemathesis' requests transport, sending through a watching adapter: on the run's own
    session (in-process: a client of the watched app) or mounted on the engine's."""

    def __init__(self, run: _Run, client: requests.Session | None) -> None:
        super().__init__()
        self._copy_serializers_from(REQUESTS_TRANSPORT)
        self.run = run
        self.client = client
        self._session: requests.Session | None = None

    def own_session(self) -> requests.Session:
        if self._session is None:
            self._session = requests.Session()
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
        if self.client is not None:
            self.client.__exit__(None, None, None)

    def send(self, case: Any, *, session: Any = None, **kwargs: Any) -> Any:
        self.run.sending(case.operation.label)
        if self.client is not None:
            kwargs.pop("app", None)
            return super().send(case, session=self.client, **kwargs)
        if session is None:  # a check re-sending a request: the transport's own session
            session = self.own_session()
        if not isinstance(session.get_adapter("http://"), WatchingAdapter):
            adapter = WatchingAdapter(self.run)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        return super().send(case, session=session, **kwargs)


def watched(schema: Any, transport: _Transport) -> Any:
    """``schema``, sending through ``transport`` (schemathesis picks a schema's transport from
    its class: a subclass says which)."""
    cls = type(schema)
    schema.__class__ = type(cls.__name__, (cls,), {"transport": property(lambda _: transport)})
    return schema


@contextmanager
def watching(
    document: Mapping[str, Any], bounds: Bounds, app: ASGIApp | None = None
) -> Iterator[_Transport]:
    """A transport that watches every stream of the run, for the time of the block; with an
    in-process ``app``, it sends to the app (watched) under the base URL ``IN_PROCESS``."""
    run = _Run(document, bounds)
    client = None
    if app is not None:
        middleware = WatchedApp(app, run)
        # schemathesis' own event limit a step behind the watch's, so the watch reports first.
        client = asgi.get_client(middleware, max_stream_events=bounds.max_events + 1)  # type: ignore[arg-type]
        client.__enter__()  # the app's lifespan
        client.mount("http://", _ASGIWatching(client.adapter, middleware))
    transport = _Transport(run, client)
    try:
        yield transport
    finally:
        transport.close()


# The item schemas of a loaded contract, kept on the schemathesis schema object they were read
# from (never in a module): they live as long as that schema, and a second run has its own.
_ITEMS = "_vivi_item_schemas"


def _whole(response: Any, case: Any) -> StreamWatch | None:
    """A body read in one piece (a recording, a run not watched): checked event by event."""
    content_type = next(iter(response.headers.get("content-type") or []), None)
    if not is_event_stream(content_type):
        return None
    loaded = case.operation.schema
    items = getattr(loaded, _ITEMS, None)
    if not isinstance(items, ItemSchemas):
        items = ItemSchemas(loaded.raw_schema)
        setattr(loaded, _ITEMS, items)
    schema = items.find(case.operation.label, response.status_code)
    if schema is None:
        return None
    content = response.content
    watch = StreamWatch(schema, Bounds(len(content) + 1, len(content) + 1, float("inf")), 0.0)
    watch.feed(content, 0.0)
    watch.finish(0.0)
    return watch


def stream_event_conformance(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every event of a stream valid against the item schema, the stream within its bounds."""
    probe = getattr(response.request, _PROBE, None)
    watch = probe.watch if isinstance(probe, Probe) else None
    if watch is None:
        watch = _whole(response, case)
    if watch is None:
        return None
    if isinstance(watch.verdict, BadEvent | Exceeded):
        raise StreamEventFailure(operation=case.operation.label, verdict=watch.verdict)
    return True


schemathesis.check(stream_event_conformance)
