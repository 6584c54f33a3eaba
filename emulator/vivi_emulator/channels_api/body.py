"""Reading and validating request bodies: size limit, media type, JSON, model.

Every failure becomes a precise 4xx (413, 415, 422) naming the field and the reason, so a
developer reading the error knows what to fix without opening the emulator's source.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from vivi_emulator.errors import (
    BadRequest,
    FieldError,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    echoed,
)

M = TypeVar("M", bound=BaseModel)

_WIRE_FIELDS = frozenset({"message", "threadId", "userId", "attachedFiles", "messages", "files"})

# pydantic's wording, where a developer deserves plainer words.
_REASONS = {
    "missing": "is required",
    "string_too_short": "must not be empty",
    "string_pattern_mismatch": "is not valid",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "model_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "too_short": "must not be empty",
}
_PATTERN_REASONS = {
    "threadId": "must be a UUID (like 0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10)",
    "userId": "must be a UUID or null",
    "attachedFiles": "must be a URL, a list of URLs, or null",
}


class ClientGone(Exception):
    """The client hung up while its answer was being prepared; there is nobody to answer."""


# A body that ends early: granian reports a malformed one (a broken chunked encoding) as the
# client leaving, and so does uvicorn after answering its own 400. Either way the answer is a
# 400 (sent to nobody if the client did leave).
_CUT_SHORT = (
    "the request body could not be read to its end: it is malformed (such as a broken chunked "
    "encoding), or the client hung up while sending it"
)


def media_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_media_type(headers: Mapping[str, str], expected: str) -> None:
    got = media_type(headers)
    if got != expected:
        shown = echoed(got) or "none"
        raise UnsupportedMediaType(f"Content-Type must be {expected}, got {shown}")


def refuse_declared(headers: Mapping[str, str], limit: int) -> None:
    """413 at once for a body whose declared length is over ``limit`` (nothing read)."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {limit}")


def over_limit(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body is over the limit of {limit} bytes")


def cut_short() -> BadRequest:
    return BadRequest(_CUT_SHORT)


async def read_all(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """A body's pieces joined, refusing (413) as soon as they are over ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise over_limit(limit)
        parts.append(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _field(error: ErrorDetails) -> str:
    # Union members add their type names to `loc`; keep only wire names and list indexes.
    parts = [str(p) for p in error["loc"] if isinstance(p, int) or p in _WIRE_FIELDS]
    return ".".join(parts) or "body"


def _reason(error: ErrorDetails, field: str) -> str:
    kind = error["type"]
    if kind == "json_invalid":
        return f"is not valid JSON ({error['msg'].removeprefix('Invalid JSON: ')})"
    if kind in {"string_pattern_mismatch", "string_type", "list_type"}:
        last = field.rsplit(".", 1)[-1]
        if last.isdigit() and field.rsplit(".", 2)[-2] == "attachedFiles":
            return "must be a URL"
        if last in _PATTERN_REASONS:
            return _PATTERN_REASONS[last]
    return _REASONS.get(kind, error["msg"])


def field_errors(exc: ValidationError) -> list[FieldError]:
    seen: dict[str, FieldError] = {}
    for error in exc.errors(include_input=False, include_url=False):
        field = _field(error)
        seen.setdefault(field, FieldError(field, _reason(error, field)))
    return list(seen.values())


def parse_json(model: type[M], raw: bytes) -> M:
    if not raw.strip():
        raise ValidationFailed("request body is empty", [FieldError("body", "is required")])
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = field_errors(exc)
        summary = "; ".join(f"{e.field} {e.reason}" for e in errors)
        raise ValidationFailed(f"invalid request: {summary}", errors) from None
