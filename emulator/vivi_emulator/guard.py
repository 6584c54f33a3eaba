"""What a web page may do to the emulator: nothing, unless it is the emulator's own page.

A development server on loopback is reachable from every web page its user opens. Two attacks
follow, and this layer answers both (docs/decisions.md, "Emulator extensions"; SECURITY.md):

- **DNS rebinding**: a page of ``evil.example`` makes its own name resolve to 127.0.0.1, then
  reads the emulator as its "same origin" (the journal, the playground). The browser still sends
  ``Host: evil.example``: so on a loopback bind only names that mean this machine are accepted
  (as Jupyter's and webpack's development servers do): ``localhost`` and ``*.localhost``,
  loopback addresses, the bind address, names under ``.test`` (reserved for testing, never in
  public DNS: in-process test clients use them), ``testserver`` (Starlette's test client), and
  the configured ``allowed_hosts``. On another bind (``0.0.0.0``) any name is accepted unless
  ``allowed_hosts`` is set.
- **Cross-site requests** to the control API: a page elsewhere may send "simple" requests
  (a form, a ``text/plain`` fetch) without asking, and one could rotate a key or reset the
  emulator. A control request a browser marks as cross-origin (an ``Origin`` other than the
  emulator's own, ``Origin: null``, ``Sec-Fetch-Site: cross-site`` or ``same-site``) is refused,
  and a control write with a body must be ``application/json``, which no page can send
  elsewhere without a preflight the emulator never grants.

Both are a 403 (a 415 for the media type) with a JSON ``detail``; tools that send no ``Origin``
(curl, test code, the pytest plugin) are never affected.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from vivi_emulator.caches import Cache
from vivi_emulator.control.access import is_loopback
from vivi_emulator.errors import (
    ApiError,
    Forbidden,
    UnsupportedMediaType,
    echoed,
    error_response,
)
from vivi_emulator.paths import CONTROL_PREFIX
from vivi_emulator.settings import Settings

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SAME_ORIGIN_FETCH = frozenset({b"same-origin", b"none"})
# Names that can only mean this machine, or that no public DNS can make mean anything else.
_LOCAL_NAMES = frozenset({"localhost", "testserver"})
_LOCAL_SUFFIXES = (".localhost", ".test")


def _name_and_port(netloc: str, scheme: str = "http") -> tuple[str, int | None]:
    """``host[:port]`` split, lower case, brackets kept off an IPv6 address."""
    parts = urlsplit(f"{scheme}://{netloc}")
    try:
        port = parts.port
    except ValueError:
        port = -1  # not a port: matches nothing
    default = 443 if scheme == "https" else 80
    return (parts.hostname or "").rstrip("."), default if port is None else port


def _is_loopback_address(name: str) -> bool:
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class HostPolicy:
    """Which Host names this emulator answers (see the module): the one check of every request,
    made by the ASGI layer (``Guard``) and by the VIVI core alike."""

    def __init__(self, settings: Settings) -> None:
        self.allowed = tuple(h.lower().rstrip(".") for h in settings.allowed_hosts)
        self.bind = settings.host.strip("[]").lower()
        self.check_hosts = is_loopback(settings.host) or bool(self.allowed)
        # Host header values seen, and whether each is allowed (owned: cleared when full).
        self._decided: Cache[bytes, bool] = Cache(256)

    def host_allowed(self, host: bytes) -> bool:
        decided = self._decided.get(host)
        if decided is None:
            decided = self._decided.put(host, self._allowed(host.decode("latin-1")))
        return decided

    def _allowed(self, host: str) -> bool:
        name, port = _name_and_port(host)
        if port == -1 or not name:
            return False
        if "*" in self.allowed or name == self.bind or name in self.allowed:
            return True
        if any(a.startswith(".") and (name.endswith(a) or name == a[1:]) for a in self.allowed):
            return True
        return name in _LOCAL_NAMES or name.endswith(_LOCAL_SUFFIXES) or _is_loopback_address(name)

    def refusal(self, host: bytes | None, http_version: str | None = None) -> ApiError | None:
        """The refusal of a request with this Host header (None: none was sent), if any."""
        if (
            not self.check_hosts
            or host is None
            or _optional_host(host, http_version)
            or self.host_allowed(host)
        ):
            return None
        return _foreign(host)


class Guard:
    """The ASGI layer that refuses foreign Host names and cross-origin control requests."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hosts = HostPolicy(settings)
        self.check_hosts = self.hosts.check_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(CONTROL_PREFIX):
            refusal = self._control_refusal(scope)
        elif self.check_hosts:
            refusal = self._foreign_host(scope)
        else:
            refusal = None
        if refusal is not None:
            await error_response(refusal)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _foreign_host(self, scope: Scope) -> ApiError | None:
        """The refusal of a request whose Host is not a name of this emulator: the one check
        of every request but the control API's, which reads the Host header alone."""
        host = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
        return self.hosts.refusal(host, scope.get("http_version"))

    def _control_refusal(self, scope: Scope) -> ApiError | None:
        """The refusal of a control request: a foreign Host, a cross-origin browser request,
        or a write with a body that is not JSON."""
        seen = _ControlHeaders.of(scope)
        refused = self.hosts.refusal(seen.host, scope.get("http_version"))
        if refused is not None:
            return refused
        if (
            seen.origin is not None and not _same_origin(seen.origin, scope["scheme"], seen.host)
        ) or (seen.fetch_site is not None and seen.fetch_site.lower() not in _SAME_ORIGIN_FETCH):
            return Forbidden(
                "cross-origin requests to the control API are refused: only the emulator's own "
                "pages, and clients that are not browsers, may use it"
            )
        if scope["method"] in _WRITES and (seen.has_body or seen.content_type is not None):
            media = (seen.content_type or b"").split(b";", 1)[0].strip().lower()
            if media != b"application/json":
                shown = media.decode("latin-1") or "none"
                return UnsupportedMediaType(
                    f"Content-Type must be application/json for a control API write, got {shown}"
                )
        return None


def _optional_host(host: bytes, http_version: str | None) -> bool:
    """An empty Host on HTTP/1.0, where Host is optional: granian hands the app an empty header
    (and ``http_version`` "1") where uvicorn hands none, and both mean the same. Not a browser,
    which always sends the name it resolved, so nothing a rebound name could use."""
    return not host and http_version in ("1.0", "1")


def _foreign(host: bytes) -> Forbidden:
    return Forbidden(
        f"Host '{echoed(host.decode('latin-1'))}' is not a name of this emulator: on a loopback "
        "address only this machine's names are answered (a guard against DNS "
        "rebinding); add it to allowed_hosts (VIVI_EMULATOR_ALLOWED_HOSTS) to allow it"
    )


@dataclass(slots=True)
class _ControlHeaders:
    """The headers the control API's checks read."""

    host: bytes | None = None
    origin: bytes | None = None
    fetch_site: bytes | None = None
    content_type: bytes | None = None
    has_body: bool = False

    @classmethod
    def of(cls, scope: Scope) -> _ControlHeaders:
        seen = cls()
        for name, value in scope["headers"]:
            if name == b"host":
                seen.host = value
            elif name == b"origin":
                seen.origin = value
            elif name == b"sec-fetch-site":
                seen.fetch_site = value
            elif name == b"content-type":
                seen.content_type = value
            elif name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
                seen.has_body = True
        return seen


def _same_origin(origin: bytes, scheme: str, host: bytes | None) -> bool:
    """Whether a browser's ``Origin`` is the origin the request was sent to (scheme and Host)."""
    if host is None or origin == b"null":
        return False
    parts = urlsplit(origin.decode("latin-1").lower())
    if parts.scheme != scheme or parts.path not in ("", "/"):
        return False
    return _name_and_port(parts.netloc, scheme) == _name_and_port(
        host.decode("latin-1").lower(), scheme
    )
