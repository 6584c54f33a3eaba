"""The control API's request bodies are limited like the VIVI surface's (``max_body_bytes``).

FastAPI reads a body whole before validating it, so without this a client could make the
emulator hold any amount of memory with one request.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vivi_emulator.errors import PayloadTooLarge, error_response


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                error = PayloadTooLarge(
                    f"request body is {int(value)} bytes; the limit is {self.limit}"
                )
                await error_response(error)(scope, receive, send)
                return
        size = 0

        async def limited() -> Message:
            nonlocal size
            message = await receive()
            size += len(message.get("body", b""))
            if size > self.limit:
                raise PayloadTooLarge(f"request body is over the limit of {self.limit} bytes")
            return message

        await self.app(scope, limited, send)
