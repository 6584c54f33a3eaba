"""Reading a multipart upload into files, within the limits, without a second copy.

The body is fed to Starlette's multipart parser as it arrives (the parser spools each file to a
temporary file past 1 MiB), so a 100 MiB upload is held once, as the files' bytes, not also as
the raw body; and a file is refused (413) as soon as it passes ``max_file_bytes``, not once it
has been read whole (an 11 MiB file was read to its end before its 413).
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from vivi_emulator.channels_api.body import refuse_declared
from vivi_emulator.channels_api.core import Incoming
from vivi_emulator.errors import FieldError, PayloadTooLarge, ValidationFailed
from vivi_emulator.files import safe_file_name
from vivi_emulator.settings import Limits
from vivi_emulator.store.values import NewFile

_OCTETS = "application/octet-stream"


def _too_many(limits: Limits) -> ValidationFailed:
    reason = f"must hold at most {limits.max_files} files"
    return ValidationFailed(f"invalid request: files {reason}", [FieldError("files", reason)])


class _FileLimitParser(MultiPartParser):
    """Starlette's parser, refusing a file part as soon as it passes ``max_file_bytes``."""

    def __init__(self, *args: Any, max_file_bytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_file_bytes = max_file_bytes
        self._file_bytes = 0

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._file_bytes = 0

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        file = self._current_part.file
        if file is not None:
            self._file_bytes += end - start
            if self._file_bytes > self.max_file_bytes:
                raise PayloadTooLarge(
                    f"file '{safe_file_name(file.filename)}' is over the limit of "
                    f"{self.max_file_bytes} bytes"
                )
        super().on_part_data(data, start, end)


async def read_uploads(request: Incoming, limits: Limits) -> list[NewFile]:
    """The files of the request's ``files`` parts, in order; 413/422 naming the limit."""
    refuse_declared(request.headers, limits.upload_bytes)
    parser = _FileLimitParser(
        Headers(request.headers),
        request.peer.chunks(limits.upload_bytes),
        # The file count is checked here, and named in the error, not by the parser's words.
        max_files=limits.max_files + 1,
        max_fields=100,
        max_part_size=limits.max_body_bytes,
        max_file_bytes=limits.max_file_bytes,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        if exc.message.startswith("Too many files"):
            raise _too_many(limits) from None
        raise ValidationFailed(
            f"invalid multipart body: {exc.message}", [FieldError("files", exc.message)]
        ) from None
    try:
        parts = form.getlist("files")
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
        # The count and each file's size are checked by the service, which names the limits.
        return [
            NewFile(part.filename or "file", part.content_type or _OCTETS, await part.read())
            for part in parts
            if isinstance(part, UploadFile)
        ]
    finally:
        await form.close()
