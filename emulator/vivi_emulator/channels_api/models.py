"""Request bodies of the VIVI surface, as the contract describes them.

Validation is strict on purpose: an emulator that accepts what the real API might refuse would let
an integration pass here and fail in production. Where the docs are loose (``attachedFiles`` as a
string or a list, ``null`` for the optional fields) both forms are accepted, as recorded in
docs/decisions.md.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# RFC 4122 text form only: pydantic's UUID type would also take 32 bare hex digits or braces,
# which the contract's `format: uuid` (and so the real API's validators) refuse.
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# An absolute URI (RFC 3986): a scheme, a colon, then only characters a URI may hold.
URI_PATTERN = (
    r"^[A-Za-z][A-Za-z0-9+.\-]*:(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]|%[0-9A-Fa-f]{2})*$"
)

Uuid = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]
Uri = Annotated[str, StringConstraints(pattern=URI_PATTERN)]


class _Strict(BaseModel):
    # strict: no silent coercion (a number is not a message); extra fields are ignored, as most
    # JSON APIs do, so a client sending more than the docs list is not broken by the emulator.
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


class MessageRequest(_Strict):
    message: Annotated[str, Field(min_length=1)]
    threadId: Uuid
    userId: Uuid | None = None
    attachedFiles: Uri | list[Uri] | None = None

    @property
    def attached_files(self) -> list[str]:
        if self.attachedFiles is None:
            return []
        if isinstance(self.attachedFiles, str):
            return [self.attachedFiles]
        return list(self.attachedFiles)


class BatchRequest(_Strict):
    messages: Annotated[list[MessageRequest], Field(min_length=1)]
