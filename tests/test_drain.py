"""The rest of a request's body is read before its answer, within its bounds (drain.py)."""

from __future__ import annotations

from starlette.types import Message

from vivi_emulator.drain import BodyDrain


class Body:
    """An ASGI ``receive`` giving a body in pieces, counting what was read."""

    def __init__(self, pieces: int, size: int) -> None:
        self.left = pieces
        self.size = size
        self.read = 0

    async def __call__(self) -> Message:
        self.left -= 1
        self.read += self.size
        return {"type": "http.request", "body": b"x" * self.size, "more_body": self.left > 0}


def scope(*headers: tuple[bytes, bytes]) -> dict[str, object]:
    return {"type": "http", "method": "POST", "headers": list(headers)}


async def test_the_rest_of_a_body_is_read_to_its_end() -> None:
    body = Body(pieces=10, size=1000)
    drain = BodyDrain(scope((b"content-length", b"10000")), body, limit=100_000)
    await drain.receive()  # the app read one piece, then refused
    assert not drain.ended
    await drain.drain()
    assert drain.ended
    assert body.left == 0


async def test_a_body_declared_over_the_limit_is_not_read() -> None:
    body = Body(pieces=10, size=1000)
    drain = BodyDrain(scope((b"content-length", b"10000")), body, limit=5000)
    await drain.drain()
    assert body.read == 0


async def test_a_chunked_body_is_read_up_to_the_limit_only() -> None:
    body = Body(pieces=1000, size=1000)
    drain = BodyDrain(scope((b"transfer-encoding", b"chunked")), body, limit=5000)
    await drain.drain()
    assert 5000 <= body.read <= 6000
    assert not drain.ended


async def test_a_request_without_a_body_has_nothing_to_read() -> None:
    body = Body(pieces=1, size=0)
    drain = BodyDrain(scope(), body, limit=5000)
    assert drain.ended
    await drain.drain()
    assert body.read == 0


async def test_a_body_held_back_for_100_continue_is_not_asked_for() -> None:
    body = Body(pieces=10, size=1000)
    expecting = scope((b"content-length", b"10000"), (b"expect", b"100-continue"))
    drain = BodyDrain(expecting, body, limit=100_000)
    await drain.drain()
    assert body.read == 0
    # Once the app has read some of it, the client is sending: the rest is read.
    await drain.receive()
    await drain.drain()
    assert body.left == 0
