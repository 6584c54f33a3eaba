"""Reading an upload stops at the per-file limit (channels_api/uploads.py; issue 21, item 2)."""

from __future__ import annotations

import pytest
from starlette.types import Message

from vivi_emulator.channels_api.asgi import AsgiPeer
from vivi_emulator.channels_api.core import Incoming
from vivi_emulator.channels_api.uploads import read_uploads
from vivi_emulator.errors import PayloadTooLarge
from vivi_emulator.settings import Limits

BOUNDARY = "b0undary"
PIECE = 64 * 1024


def multipart(*files: tuple[str, bytes]) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n"
        for name, data in files
    ]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


class Sent:
    """A request body sent in pieces, counting how much of it the reader took."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.taken = 0

    async def receive(self) -> Message:
        piece = self.body[self.taken : self.taken + PIECE]
        self.taken += len(piece)
        return {"type": "http.request", "body": piece, "more_body": self.taken < len(self.body)}

    def request(self) -> Incoming:
        content_type = f"multipart/form-data; boundary={BOUNDARY}"
        headers = {"content-type": content_type}
        return Incoming("POST", "/channelsApi/c/files", headers, AsgiPeer(self.receive))


async def test_a_file_over_the_limit_is_refused_as_soon_as_it_passes_it() -> None:
    limits = Limits(max_file_bytes=100_000, max_files=100)
    sent = Sent(multipart(("small.bin", b"s" * 1000), ("big.bin", b"x" * 5_000_000)))
    with pytest.raises(PayloadTooLarge, match=r"file 'big.bin' is over the limit of 100000 bytes"):
        await read_uploads(sent.request(), limits)
    # Read up to the limit and the piece that passed it: not the 5 MB file whole.
    assert sent.taken <= 100_000 + 1000 + 2 * PIECE


async def test_files_at_the_limit_are_read_whole() -> None:
    limits = Limits(max_file_bytes=100_000)
    sent = Sent(multipart(("a.bin", b"a" * 100_000), ("b.bin", b"b" * 10)))
    files = await read_uploads(sent.request(), limits)
    assert [(f.name, len(f.data)) for f in files] == [("a.bin", 100_000), ("b.bin", 10)]
