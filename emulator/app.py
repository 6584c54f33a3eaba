"""``create_app(settings)``: wiring only. Behaviour lives in ``core``; routes in their modules."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from emulator import __version__
from emulator.access_log import AccessLog
from emulator.channels_api.routes import routes as channels_api_routes
from emulator.control.api import create_control_app
from emulator.core import Emulator
from emulator.errors import install_error_handlers
from emulator.playground import routes as playground_routes
from emulator.scenarios.reload import watch_fixtures
from emulator.settings import Settings, load_resolved
from emulator.spec import contract_json, contract_text
from emulator.streaming import quiet_aborts

CONTROL_PREFIX = "/_emulator"


def _meta_routes() -> list[Route]:
    async def openapi_json(_: Request) -> Response:
        return Response(contract_json(), media_type="application/json")

    async def openapi_yaml(_: Request) -> Response:
        return Response(contract_text(), media_type="application/yaml")

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    return [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/openapi.yaml", openapi_yaml, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/health", health, methods=["GET"]),
    ]


def _lifespan(emulator: Emulator) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not emulator.settings.reload_fixtures:
            yield
            return
        stop = anyio.Event()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(watch_fixtures, emulator, stop)
            yield
            stop.set()

    return lifespan


def create_app(settings: Settings | None = None, emulator: Emulator | None = None) -> FastAPI:
    settings = settings or Settings()
    emulator = emulator or Emulator(settings)
    # FastAPI's generated schema and docs are off: the contract file is served instead.
    app = FastAPI(
        title="vivi-emulator",
        version=__version__,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
        lifespan=_lifespan(emulator),
    )
    app.state.emulator = emulator
    app.router.routes.extend(channels_api_routes(emulator))
    app.router.routes.extend(_meta_routes())
    app.router.routes.extend(playground_routes(emulator))
    app.router.routes.append(Mount(CONTROL_PREFIX, app=create_control_app(emulator)))
    install_error_handlers(app)
    quiet_aborts()
    if settings.access_log:
        app.add_middleware(AccessLog)
    return app


def create_app_from_env() -> FastAPI:
    """The factory ASGI servers import (granian's workers): settings from the environment."""
    return create_app(load_resolved())
