"""ASGI answers the VIVI surface writes straight, without Starlette's Response: a 200 JSON
answer, no answer at all, and a script's headers laid over a response's own."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import Receive, Scope, Send


class Nothing:
    """The answer to a client that hung up: no response at all."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return


class JsonAnswer:
    """A 200 JSON answer written straight to ASGI (Starlette's Response rebuilds its headers
    on every request; these are the same every time but for the length)."""

    def __init__(self, body: bytes, headers: Sequence[tuple[str, str]]) -> None:
        self.body = body
        self.headers = with_headers(
            [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            headers,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


def with_headers(
    base: Sequence[tuple[bytes, bytes]], extra: Sequence[tuple[str, str]]
) -> list[tuple[bytes, bytes]]:
    """``base`` with a scenario's headers: a header the scenario names replaces the base one
    (names in any case; of two with the same name, the later wins)."""
    if not extra:
        return list(base)
    added = {k.lower().encode("latin-1"): v.encode("latin-1") for k, v in extra}
    return [*(h for h in base if h[0] not in added), *added.items()]
