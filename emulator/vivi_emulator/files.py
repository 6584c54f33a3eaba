"""Uploaded files, as the service keeps them: within the limits, under a name that is safe.

The bytes stay in the store (under its byte quota, for ``file_ttl_seconds``), by a random id; a
file is read back only by its channel's URL with its id and name (``channels_api.routes``). A
part of the service: ``service.Emulator.files``, built with the store role and the limits it
uses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from vivi_emulator.errors import FieldError, NotFound, PayloadTooLarge, ValidationFailed
from vivi_emulator.settings import Limits
from vivi_emulator.store.roles import FileStore
from vivi_emulator.store.values import NewFile, StoredFile

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_file_name(name: str | None) -> str:
    """A client's file name reduced to a harmless URL segment. It never becomes a path."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_NAME.sub("_", base).strip("._")[:100]
    return cleaned or "file"


class Files:
    """The service's uploads (see the module's docstring)."""

    def __init__(self, store: FileStore, limits: Limits) -> None:
        self.store = store
        self.limits = limits

    async def upload(
        self, channel_id: str, files: Sequence[NewFile], generation: int | None = None
    ) -> list[tuple[str, str]]:
        """Keep the files, while the channel's ``generation`` lasts (ChannelGone after);
        return (file id, safe name) per file, in order."""
        limits = self.limits
        if len(files) > limits.max_files:
            reason = f"must hold at most {limits.max_files} files, got {len(files)}"
            raise ValidationFailed(
                f"invalid request: files {reason}", [FieldError("files", reason)]
            )
        for new in files:
            if len(new.data) > limits.max_file_bytes:
                raise PayloadTooLarge(
                    f"file '{safe_file_name(new.name)}' is {len(new.data)} bytes; "
                    f"the limit is {limits.max_file_bytes}"
                )
        named = [NewFile(safe_file_name(f.name), f.content_type, f.data) for f in files]
        ids = await self.store.put_files(channel_id, named, generation)
        return [(file_id, new.name) for file_id, new in zip(ids, named, strict=True)]

    async def uploaded_file(self, channel_id: str, file_id: str, name: str) -> StoredFile:
        stored = await self.store.get_file(file_id)
        if stored is None or stored.channel_id != channel_id or stored.name != name:
            raise NotFound("no such file, or it has expired")
        return stored
