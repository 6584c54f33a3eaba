"""A pytest plugin: the ``vivi_emulator`` fixture, for integrators' own test suites.

Installed with the package (entry point ``pytest11``), so ``pip install vivi-emulator`` is all a
test suite needs. One emulator per test session, reset before each test; in-process by default
(an httpx transport, no port), or on a real loopback socket for code that needs a URL::

    def test_my_client(vivi_emulator):
        vivi_emulator.queue_reply("Your order has shipped.")
        reply = my_client(base_url=vivi_emulator.base_url, transport=vivi_emulator.sync_transport)
        assert reply == "Your order has shipped."
        assert vivi_emulator.journal()[0]["body"]["message"] == "where is my order?"

    @pytest.mark.vivi_emulator(socket=True, strict=True)
    def test_over_http(vivi_emulator): ...
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import pytest
import uvicorn

from vivi_emulator.app import create_app
from vivi_emulator.errors import ValidationFailed
from vivi_emulator.service import Emulator
from vivi_emulator.settings import DEFAULT_API_KEY, DEFAULT_CHANNEL_ID, Settings

_MARKER = "vivi_emulator"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vivi-emulator")
    group.addoption(
        "--vivi-emulator-socket",
        action="store_true",
        default=False,
        help="serve the vivi_emulator fixture on a real loopback socket for every test",
    )
    parser.addini(
        "vivi_emulator_fixtures",
        type="paths",
        default=[],
        help="scenario folders for the vivi_emulator fixture (on top of the defaults)",
    )
    parser.addini(
        "vivi_emulator_strict",
        type="bool",
        default=False,
        help="fail a test whose requests to the emulator matched no scenario",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(socket=False, strict=None): configure the vivi_emulator fixture: socket=True "
        "serves it on a loopback port; strict=True fails the test when a request matched no "
        "scenario (it fell through to the default).",
    )


class SyncASGITransport(httpx.BaseTransport):
    """httpx's ASGI transport for synchronous clients: runs the app on a blocking portal."""

    def __init__(self, transport: httpx.ASGITransport, portal: anyio.from_thread.BlockingPortal):
        self._transport = transport
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def roundtrip() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            response = await self._transport.handle_async_request(request)
            body = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
            return response.status_code, response.headers.raw, body

        status, headers, body = self._portal.call(roundtrip)
        return httpx.Response(status, headers=headers, content=body, request=request)


class _Server:
    """uvicorn on a free loopback port, in the session's event loop (the portal's), so that the
    server and the test's scripting calls share one loop."""

    def __init__(self, app: Any, portal: anyio.from_thread.BlockingPortal) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._done = portal.start_task_soon(self._server.serve)
        deadline = time.monotonic() + 15
        while not self._server.started:
            if self._done.done() or time.monotonic() > deadline:
                raise RuntimeError("vivi_emulator: the socket server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._done.result(timeout=10)


class _Session:
    def __init__(self, config: pytest.Config) -> None:
        folders: list[Path] = list(config.getini("vivi_emulator_fixtures"))
        self.settings = Settings(access_log=False, reload_fixtures=False, fixtures=tuple(folders))
        self.emulator = Emulator(self.settings)
        self.app = create_app(self.settings, self.emulator)
        self._stack = ExitStack()
        self._portal: anyio.from_thread.BlockingPortal | None = None
        self._server: _Server | None = None

    @property
    def portal(self) -> anyio.from_thread.BlockingPortal:
        if self._portal is None:
            self._portal = self._stack.enter_context(anyio.from_thread.start_blocking_portal())
        return self._portal

    @property
    def server(self) -> _Server:
        if self._server is None:
            self._server = _Server(self.app, self.portal)
            self._stack.callback(self._server.stop)
        return self._server

    def close(self) -> None:
        self._stack.close()


class ViviEmulator:
    """The handle a test gets: where the emulator is, and how to script and inspect it."""

    def __init__(self, session: _Session, *, use_socket: bool) -> None:
        self._session = session
        self.emulator = session.emulator
        self.app = session.app
        self.channel_id = DEFAULT_CHANNEL_ID
        self.api_key = DEFAULT_API_KEY
        self.socket = use_socket
        self.base_url = (
            f"http://127.0.0.1:{session.server.port}" if use_socket else "http://vivi-emulator.test"
        )

    @property
    def headers(self) -> dict[str, str]:
        """The key header, plus a JSON content type: what a message request needs."""
        return {"vivi-api-key": self.api_key, "content-type": "application/json"}

    @property
    def transport(self) -> httpx.AsyncBaseTransport | None:
        """An httpx transport into the emulator (None on a socket: use ``base_url``)."""
        return None if self.socket else httpx.ASGITransport(app=self.app)

    @property
    def sync_transport(self) -> httpx.BaseTransport | None:
        if self.socket:
            return None
        return SyncASGITransport(httpx.ASGITransport(app=self.app), self._session.portal)

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, transport=self.transport, **kwargs)

    def sync_client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, transport=self.sync_transport, **kwargs)

    def url(self, operation: str) -> str:
        return f"{self.base_url}/channelsApi/{self.channel_id}/{operation}"

    def queue_reply(self, text: str | None = None, **scenario: Any) -> None:
        """Queue a one-shot answer: a text, or any fixture scenario fields (status=..., ...)."""
        if text is not None:
            scenario["text"] = text
        try:
            self._session.portal.call(self.emulator.queue_reply, scenario)
        except ValidationFailed as exc:
            reasons = "; ".join(f"{e.field}: {e.reason}" for e in exc.errors)
            raise ValueError(f"vivi_emulator.queue_reply: {exc.detail}: {reasons}") from None

    def force(self, scenario: str | None) -> None:
        """Answer every request with this scenario until reset (None stops forcing)."""
        try:
            self._session.portal.call(self.emulator.force, scenario)
        except ValidationFailed as exc:
            raise ValueError(f"vivi_emulator.force: {exc.detail}") from None

    def journal(
        self, channel: str | None = None, thread: str | None = None, path: str | None = None
    ) -> list[dict[str, Any]]:
        """The requests the emulator received, oldest first (keys replaced by a marker)."""
        entries = self._session.portal.call(self.emulator.journal, channel, thread, path)
        return [e.as_dict() for e in entries]

    def unmatched(self) -> list[dict[str, Any]]:
        """Requests (or batch items) answered by the default scenario: nothing else matched."""
        entries = self._session.portal.call(self.emulator.journal)
        return [e.as_dict() for e in entries if e.unmatched_items()]

    def reset(self) -> None:
        self._session.portal.call(self.emulator.reset)


@pytest.fixture(scope="session")
def _vivi_emulator_session(request: pytest.FixtureRequest) -> Iterator[_Session]:
    session = _Session(request.config)
    yield session
    session.close()


@pytest.fixture
def vivi_emulator(
    request: pytest.FixtureRequest, _vivi_emulator_session: _Session
) -> Iterator[ViviEmulator]:
    """A running VIVI emulator, reset for this test (see ``pytest --markers``)."""
    marker = request.node.get_closest_marker(_MARKER)
    options = marker.kwargs if marker else {}
    use_socket = bool(options.get("socket", request.config.getoption("--vivi-emulator-socket")))
    strict = options.get("strict")
    if strict is None:
        strict = bool(request.config.getini("vivi_emulator_strict"))
    _vivi_emulator_session.portal.call(_vivi_emulator_session.emulator.reset)
    handle = ViviEmulator(_vivi_emulator_session, use_socket=use_socket)
    yield handle
    unmatched = handle.unmatched() if strict else []
    if unmatched:
        lines = [
            f"  {e['method']} {e['path']} message={_message_of(e)!r} thread={e['thread']}"
            for e in unmatched
        ]
        pytest.fail(
            f"vivi_emulator (strict): {len(unmatched)} request(s) matched no scenario and got "
            "the default answer:\n"
            + "\n".join(lines)
            + "\nQueue a reply (vivi_emulator.queue_reply), force a scenario, or add a fixture "
            "that matches.",
            pytrace=False,
        )


def _message_of(entry: dict[str, Any]) -> str | None:
    body = entry.get("body")
    if isinstance(body, dict):
        message = body.get("message")
        return message if isinstance(message, str) else None
    return None
