"""The test session's own emulator: uvicorn on a free loopback port, in a thread of its own.

A real socket, so any HTTP client (requests, httpx, aiohttp, urllib, a Node subprocess) reaches
it unchanged, and streams behave as they will against VIVI: events at their scripted times, the
client's own error on a dropped connection, its own read timeout on a stall. The server runs on
an event loop in a background thread, so neither a test's blocking client nor the test's own
event loop can hold it up.

uvicorn rather than granian (the CLI's default): granian serves from worker processes of its
own, while uvicorn starts inside this process in a few milliseconds, which is what a fixture
wants. The socket is bound before the server starts, so the port is known at once and no other
process can take it in between.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import anyio.from_thread

_START_TIMEOUT = 30.0  # a loaded CI machine can be slow to import the app; it never takes this
_STOP_TIMEOUT = 10.0


class LocalServer:
    """One emulator for the test session (the fixtures folders on top of the defaults)."""

    def __init__(self, fixtures: Sequence[Path] = ()) -> None:
        self._fixtures = tuple(fixtures)
        self._stack = ExitStack()
        self.base_url: str | None = None

    def start(self) -> str:
        """Start serving; return the base URL (``http://127.0.0.1:<port>``)."""
        # Imported here: the plugin is loaded by every pytest session in an environment that
        # has the package, and most of them never use the fixture.
        import uvicorn

        from vivi_emulator.app import create_app
        from vivi_emulator.settings import Settings

        # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
        # without it every response waits for the client's delayed ACK (40 ms) between writes.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._stack.callback(sock.close)
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        settings = Settings(
            host="127.0.0.1",
            port=port,
            fixtures=self._fixtures,
            access_log=False,
            reload_fixtures=False,
        )
        app = create_app(settings)
        config = uvicorn.Config(
            app,
            lifespan="on",
            # The test session's logging is the user's: uvicorn configures none of it, and its
            # warnings (if any) reach pytest's log capture like any library's.
            log_config=None,
            access_log=False,
            # A test that leaves a stalled stream open must not hold up the session's end.
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        portal = self._stack.enter_context(anyio.from_thread.start_blocking_portal())
        done = portal.start_task_soon(server.serve, [sock])

        def stop() -> None:
            server.should_exit = True
            done.result(timeout=_STOP_TIMEOUT)

        # uvicorn says it has started by a flag, not an event: look at it until it is set.
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if done.done():
                done.result()  # the reason it stopped, if it raised
                raise RuntimeError("vivi_emulator: the session's emulator stopped while starting")
            if time.monotonic() > deadline:
                raise RuntimeError("vivi_emulator: the session's emulator did not start in time")
            time.sleep(0.002)
        self._stack.callback(stop)
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    def stop(self) -> None:
        self._stack.close()
