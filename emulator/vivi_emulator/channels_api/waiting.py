"""Waiting out a reply's scripted time while watching for the client to hang up.

``/invoke`` and ``/batch`` answer after the time their stream would take. A client that hangs
up meanwhile must cost nothing more: the wait stops at once, and the journal says it left.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio


async def sleep_unless_gone(hangup: Callable[[], Awaitable[object]], seconds: float) -> bool:
    """Sleep ``seconds``; return True at once if the client hangs up first (``hangup``
    returns once it has: the server adapter's watch, ``core.Peer.gone``)."""
    gone = False
    async with anyio.create_task_group() as tasks:

        async def watch() -> None:
            nonlocal gone
            await hangup()
            gone = True
            tasks.cancel_scope.cancel()

        tasks.start_soon(watch)
        await anyio.sleep(seconds)
        tasks.cancel_scope.cancel()
    return gone
