"""``create_app(settings)``: wiring only. Behaviour lives in ``service``, routes in theirs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from vivi_emulator import __version__
from vivi_emulator.channels_api.asgi import AsgiAdapter
from vivi_emulator.channels_api.core import Core
from vivi_emulator.channels_api.routes import core_handlers, vivi_routes
from vivi_emulator.channels_api.rsgi import RsgiAdapter
from vivi_emulator.edge import Edge
from vivi_emulator.errors import ApiError, error_response, install_error_handlers
from vivi_emulator.fixture_watch import watch_fixtures
from vivi_emulator.guard import Guard, HostPolicy
from vivi_emulator.paths import CONTROL_PREFIX
from vivi_emulator.playground import routes as playground_routes
from vivi_emulator.service import Emulator
from vivi_emulator.settings import Settings, load_resolved
from vivi_emulator.spec import contract_32_json, contract_json, contract_text
from vivi_emulator.streaming import quiet_aborts


def _meta_routes(emulator: Emulator) -> list[Route]:
    async def openapi_json(_: Request) -> Response:
        return Response(contract_json(), media_type="application/json")

    async def openapi_yaml(_: Request) -> Response:
        return Response(contract_text(), media_type="application/yaml")

    async def openapi_32_json(_: Request) -> Response:
        return Response(contract_32_json(), media_type="application/json")

    async def health(_: Request) -> Response:
        # Healthy only when the state store answers: a replica without Redis cannot serve.
        try:
            await emulator.store.keys()
        except ApiError as exc:
            return error_response(exc)
        return JSONResponse({"status": "ok", "version": __version__, "state": emulator.store.name})

    return [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/openapi.yaml", openapi_yaml, methods=["GET"]),
        # The same contract as OpenAPI 3.2 (each stream event an `itemSchema`), for the tools
        # that read 3.2; the 3.1 document stays the default (Swagger UI renders it).
        Route("/openapi-3.2.json", openapi_32_json, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/health", health, methods=["GET"]),
    ]


class _OnFirstUse:
    """An ASGI app built on its first request.

    The control API is a FastAPI app (it generates its own OpenAPI document); importing FastAPI
    costs more start-up time than the rest of the emulator, and most runs never call the control
    API, so it is built only when first called.
    """

    def __init__(self, build: Callable[[], ASGIApp]) -> None:
        self._build = build
        self._app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            self._app = self._build()
        await self._app(scope, receive, send)


def _control_app(emulator: Emulator) -> ASGIApp:
    from vivi_emulator.control.api import create_control_app

    return create_control_app(emulator)


def _lifespan(emulator: Emulator) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await emulator.start()
        try:
            if not emulator.settings.reload_fixtures:
                yield
                return
            stop = anyio.Event()
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(watch_fixtures, emulator, stop)
                yield
                stop.set()
        finally:
            await emulator.close()
            # Log lines are written in batches (access_log.BatchingHandler); a server's worker
            # may end without Python's exit handlers, so the last ones are written here.
            for handler in logging.getLogger().handlers:
                handler.flush()

    return lifespan


class ViviApp:
    """The emulator as one object every server can run: an ASGI app (``__call__``: uvicorn,
    granian's ASGI interface, in-process test clients) and an RSGI app (``__rsgi__``: granian's
    native interface). Both are thin adapters over one ``Core`` for the VIVI operations, and
    hand everything else to ``starlette``, the ASGI app of the control API, pages and docs."""

    def __init__(self, core: Core, starlette: Starlette) -> None:
        self.core = core
        self.starlette = starlette
        self._asgi = AsgiAdapter(core, starlette)
        self._rsgi = RsgiAdapter(core, starlette)
        self.__rsgi__ = self._rsgi.__rsgi__
        self.__rsgi_init__ = self._rsgi.__rsgi_init__
        self.__rsgi_del__ = self._rsgi.__rsgi_del__

    @property
    def state(self) -> State:
        return self.starlette.state

    @property
    def router(self) -> Router:
        return self.starlette.router

    @property
    def emulator(self) -> Emulator:
        emulator: Emulator = self.starlette.state.emulator
        return emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._asgi(scope, receive, send)


def create_app(settings: Settings | None = None, emulator: Emulator | None = None) -> ViviApp:
    """The emulator as an app for any server (``ViviApp``).

    The VIVI surface is served by a protocol-free core (``channels_api.core``) behind thin
    server adapters: no framework on its hot path. The rest is a plain Starlette app, not
    FastAPI: the VIVI surface is contract-first (the contract file is served, not a generated
    schema), and FastAPI's per-request machinery cost a measured share of the throughput and of
    the start-up time for nothing it uses (benchmarks/results.md). The control API, which does
    use FastAPI's generated OpenAPI document, is a FastAPI app mounted under ``/_emulator``.
    """
    settings = settings or Settings()
    emulator = emulator or Emulator(settings)
    handlers = core_handlers(emulator)
    core = Core(
        handlers,
        HostPolicy(settings),
        access_log=settings.access_log,
        drain_bytes=settings.limits.largest_body,
    )
    middleware = [
        Middleware(Edge, access_log=settings.access_log, drain_bytes=settings.limits.largest_body),
        Middleware(Guard, settings=settings),
    ]
    app = Starlette(
        routes=[
            *vivi_routes(handlers),
            *_meta_routes(emulator),
            *playground_routes(emulator),
            Mount(CONTROL_PREFIX, app=_OnFirstUse(lambda: _control_app(emulator))),
        ],
        middleware=middleware,
        lifespan=_lifespan(emulator),
    )
    # A trailing slash is another path, as on the real API; no redirects.
    app.router.redirect_slashes = False
    app.state.emulator = emulator
    install_error_handlers(app)
    quiet_aborts()
    return ViviApp(core, app)


def create_app_from_env() -> ViviApp:
    """The factory servers import (granian's workers): settings from the environment."""
    return create_app(load_resolved())
