"""The VIVI surface's core: one request in, its answer out, knowing nothing of ASGI or RSGI.

A server adapter (``asgi.py`` for uvicorn, granian's ASGI interface and in-process tests;
``rsgi.py`` for granian's native interface) turns its server's request into an ``Incoming``
(method, path, headers, and a ``Peer``: the body as it arrives and the client's hang-up), asks
``Core.answer`` for an ``Outgoing`` (a status, headers, and a body: bytes, or a ``Playback`` of
timed writes), writes it, and then asks ``Core.log`` for the request's access line. The rules
(the Host check, which operations exist, errors as JSON, a bug as one log line and a 500) are
here once, for every adapter, as the handlers are (``routes.py``).

The control API, the playground and the docs stay an ASGI app (FastAPI/Starlette): an adapter
hands every request the core does not serve (``Core.serves``) to it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from vivi_emulator.access_log import Requested, access_head, printable, write_access_tail
from vivi_emulator.caches import Cache
from vivi_emulator.errors import ApiError, error_parts, internal_parts
from vivi_emulator.guard import HostPolicy
from vivi_emulator.paths import parse_api_path
from vivi_emulator.playback import Playback

_log = logging.getLogger("vivi_emulator.errors")

Headers = list[tuple[str, str]]


class Peer(Protocol):
    """What an adapter gives the core of one request's client."""

    async def body(self, limit: int) -> bytes:
        """The whole body; 413 (``PayloadTooLarge``) past ``limit`` bytes, 400 if it is cut."""
        ...

    def chunks(self, limit: int) -> AsyncGenerator[bytes]:
        """The body piece by piece as it arrives (for parsers that stream), within ``limit``."""
        ...

    async def gone(self) -> None:
        """Return once the client has hung up (after the body was read)."""
        ...


@dataclass(slots=True)
class Incoming:
    """One request to the VIVI surface, as its adapter read it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    peer: Peer
    scheme: str = "http"
    server: str = ""  # host:port of the server, for a URL when the client sent no Host
    http_version: str = "1.1"  # as the server says it ("1", "1.0", "1.1", "2")
    started: float = field(default_factory=time.perf_counter)
    channel: str = ""
    operation: str = ""
    log_head: str = ""  # the access line's start (``Route.log_head``)
    notes: list[str] = field(default_factory=list)  # words for the access line

    @property
    def base_url(self) -> str:
        """``scheme://host`` as the client addressed this server."""
        return f"{self.scheme}://{self.headers.get('host') or self.server}"


@dataclass(slots=True)
class Outgoing:
    """The answer: a status and headers, then ``body``, or the timed writes of ``stream``.
    Status 0: no answer at all (the client hung up before it was ready)."""

    status: int
    headers: Headers
    body: bytes = b""
    stream: Playback | None = None


NOTHING = Outgoing(0, [])

Handler = Callable[[Incoming], Awaitable[Outgoing]]

# The routes a core keeps, by (method, path): a client's paths are few (its channels times the
# operations), so a hit is the rule; a client inventing paths only empties the cache. A longer
# path is routed each time, never kept: the cache holds at most 256 paths of 512 characters.
ROUTES_CACHED = 256
ROUTE_PATH_CACHED = 512


@dataclass(frozen=True, slots=True)
class Route:
    """Where a request the core serves goes: its handler, channel and operation, and the start
    of its access line (``access_log.access_head``), all made once per method and path."""

    handler: Handler
    channel: str
    operation: str
    log_head: str

    def incoming(self, request: Incoming) -> Incoming:
        """``request``, routed here."""
        request.channel, request.operation, request.log_head = (
            self.channel,
            self.operation,
            self.log_head,
        )
        return request


class Core:
    """The VIVI surface's operations (``handlers``: (method, operation) to handler; a
    ``files/<id>/<name>`` download is the operation ``files/*``), behind the Host check and the
    one error rule."""

    def __init__(
        self,
        handlers: dict[tuple[str, str], Handler],
        hosts: HostPolicy,
        access_log: bool,
        drain_bytes: int = 0,
    ) -> None:
        self.handlers = handlers
        self.hosts = hosts
        self.access_log = access_log
        # The most of an unread body an adapter reads before an answer starts (drain.py).
        self.drain_bytes = drain_bytes
        self._routes: Cache[tuple[str, str], Route] = Cache(ROUTES_CACHED)

    def route(self, method: str, path: str) -> Route | None:
        """The route of a request the core serves; None for any other request (the ASGI
        app's: the control API, pages, a wrong method's 405)."""
        key = (method, path)
        known = self._routes.get(key)
        if known is not None:
            return known
        parsed = parse_api_path(path)
        if parsed is None:
            return None
        operation = parsed.operation
        if (
            operation.startswith("files/")
            and all(operation.split("/"))
            and operation.count("/") == 2
        ):
            operation = "files/*"
        handler = self.handlers.get((method, operation))
        if handler is None or not parsed.channel:
            return None
        head = access_head(Requested(method, path, parsed.channel))
        route = Route(handler, parsed.channel, parsed.operation, head)
        return self._routes.put(key, route) if len(path) <= ROUTE_PATH_CACHED else route

    async def answer(self, request: Incoming, handler: Handler) -> Outgoing:
        """The answer to ``request``; never raises (but for cancellation): an ApiError is its
        JSON answer, anything else a bug: one log line (its type and where, never the request's
        headers, which hold the key) and a JSON 500."""
        try:
            refused = self.hosts.refusal(_host(request), request.http_version)
            if refused is not None:
                raise refused
            return await handler(request)
        except ApiError as exc:
            return Outgoing(*error_parts(exc))
        except Exception as exc:
            self.bug(request.method, request.path, exc)
            return Outgoing(*internal_parts())

    def bug(self, method: str, path: str, exc: BaseException) -> None:
        _log.error("unexpected %s on %s %s", type(exc).__name__, method, printable(path))

    def log(self, request: Incoming, status: int) -> None:
        """The request's access line, once its answer is written (status 0: none was)."""
        if self.access_log:
            head = request.log_head or access_head(
                Requested(request.method, request.path, request.channel)
            )
            write_access_tail(head, status, request.started, request.notes)


def _is_file_path(operation: str) -> bool:
    """``files/<id>/<name>``, neither empty (the route ``files/{fileId}/{fileName}``)."""
    parts = operation.split("/")
    return len(parts) == 3 and all(parts)


def _host(request: Incoming) -> bytes | None:
    host = request.headers.get("host")
    return host.encode("latin-1") if host is not None else None
