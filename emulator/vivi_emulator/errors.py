"""The VIVI surface's errors, and the one place where an error becomes an HTTP response.

Handlers and the core raise these exceptions; ``install_error_handlers`` turns them (and
Starlette's own 404/405) into the JSON error body of the contract: ``{"detail": "..."}``, plus
``errors`` for validation failures. No traceback and no request header ever reaches a response.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

_log = logging.getLogger("vivi_emulator.errors")

# The most of a client's input an error repeats back (a channel id, a header, a scenario name):
# enough to recognise it, never a 60,000-character id returned whole.
MAX_ECHO_CHARS = 200


def echoed(value: str, limit: int = MAX_ECHO_CHARS) -> str:
    """A client's input as an error repeats it: cut to ``limit`` characters, saying so."""
    if len(value) <= limit:
        return value
    return f"{value[:limit]}... ({len(value)} characters)"


@dataclass(frozen=True)
class FieldError:
    """One invalid field: its dotted path (``messages.0.threadId``) and why."""

    field: str
    reason: str


class ApiError(Exception):
    """An error the VIVI surface answers with a JSON body."""

    status_code: int = 400
    # Every error of VIVI's is JSON; a scripted intermediary's (wire.gateway) is its own page.
    media_type: str = "application/json"

    def __init__(self, detail: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail}

    def content(self) -> bytes:
        return json_bytes(self.body())


class BadRequest(ApiError):
    status_code = 400


class Unauthorized(ApiError):
    status_code = 401


class Forbidden(ApiError):
    status_code = 403


class NotFound(ApiError):
    status_code = 404


class PayloadTooLarge(ApiError):
    status_code = 413


class UnsupportedMediaType(ApiError):
    status_code = 415


class ValidationFailed(ApiError):
    status_code = 422

    def __init__(self, detail: str, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(detail)
        self.errors = list(errors)

    def body(self) -> dict[str, Any]:
        body = super().body()
        if self.errors:
            body["errors"] = [{"field": e.field, "reason": e.reason} for e in self.errors]
        return body


class AgentFailed(ApiError):
    """The agent's stream broke (a scripted fault); what /invoke and /batch answer then."""

    status_code = 500


class ReplyTooLarge(ApiError):
    """A scenario whose reply renders over the bounds (``scenarios.checks``): its author's
    fault, not the client's, so a 500 saying why."""

    status_code = 500


# The ``detail`` of a scripted status that gives no body of its own (a scenario's ``status``,
# chaos's status fault): one table for both.
STATUS_PHRASES = {
    429: "rate limit exceeded, retry later",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


class StatusReply(ApiError):
    """A scripted non-200 answer (429, 500, ...): any status, headers and JSON body."""

    def __init__(
        self,
        status_code: int,
        body: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(str(body.get("detail", "")), headers=headers)
        self.status_code = status_code  # scripted: per instance, not per class
        self._body = dict(body)

    def body(self) -> dict[str, Any]:
        return self._body


def json_bytes(payload: Any) -> bytes:
    """Encode like Python's ``json.dumps`` with its default separators, as the VIVI docs show."""
    return json.dumps(payload).encode("ascii")


_INTERNAL = json_bytes({"detail": "internal emulator error"})


def with_length(headers: Mapping[str, str], body: bytes, media_type: str) -> list[tuple[str, str]]:
    """An answer's headers as Starlette's ``Response`` writes them: the given ones (lower-case
    names), then its length and type (a text type with its charset)."""
    if media_type.startswith("text/") and "charset=" not in media_type.lower():
        media_type += "; charset=utf-8"
    return [
        *((k.lower(), v) for k, v in headers.items()),
        ("content-length", str(len(body))),
        ("content-type", media_type),
    ]


def error_parts(exc: ApiError) -> tuple[int, list[tuple[str, str]], bytes]:
    """The answer to an error (status, headers, body), for any server interface: the same
    bytes as ``error_response``."""
    body = exc.content()
    return exc.status_code, with_length(exc.headers, body, exc.media_type), body


def internal_parts() -> tuple[int, list[tuple[str, str]], bytes]:
    """The answer to a bug: a JSON 500 that says nothing of it."""
    return 500, with_length({}, _INTERNAL, "application/json"), _INTERNAL


def error_response(exc: ApiError) -> Response:
    return Response(
        exc.content(),
        status_code=exc.status_code,
        headers=exc.headers,
        media_type=exc.media_type,
    )


async def _api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "request failed"
    return Response(
        json_bytes({"detail": detail}),
        status_code=exc.status_code,
        headers=exc.headers,
        media_type="application/json",
    )


def internal_error() -> Response:
    return Response(_INTERNAL, status_code=500, media_type="application/json")


async def _unexpected(_: Request, exc: Exception) -> Response:
    # Starlette answers with this, then raises the exception on; ``edge.Edge`` catches it.
    return internal_error()


def install_error_handlers(app: Any) -> None:
    """Register the handlers on a Starlette or FastAPI application."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
