"""The Test window: the playground page at ``/`` and the offline API docs at ``/docs``.

Plain HTML (``pages/``), CSS and JavaScript (``static/``), with no build step. Swagger UI's own
files come from the installed ``fastapi-offline`` package (it ships the swagger-ui 5 dist, which
renders OpenAPI 3.1), never from a CDN. Both pages carry a Content-Security-Policy that lets them
reach this origin only, so the browser itself refuses anything that would leave the machine.
"""

from __future__ import annotations

import html
from importlib.resources import files
from importlib.util import find_spec

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from vivi_emulator.service import Emulator
from vivi_emulator.settings import DEFAULT_API_KEY

PAGE_PREFIX = "/playground"
SWAGGER_UI_PREFIX = "/docs/swagger-ui"
# The package that ships swagger-ui's dist files (swagger-ui-bundle.js, swagger-ui.css).
SWAGGER_UI_PACKAGE = ("fastapi_offline", "static")

# Both pages may load and call their own origin only; a request anywhere else is refused by the
# browser (and shows as a console error, which the browser tests fail on).
PAGE_CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'self'",
    )
)

_MISSING_SWAGGER_UI = (
    "<!doctype html><title>API docs</title><p>Swagger UI's files are not installed: install the "
    "<code>fastapi-offline</code> package (a dependency of vivi-emulator). The contract itself "
    'is at <a href="/openapi.json">/openapi.json</a>.</p>'
)


def _page(name: str) -> str:
    return files(__name__).joinpath("pages", name).read_text(encoding="utf-8")


def _headers() -> dict[str, str]:
    return {
        "content-security-policy": PAGE_CSP,
        "cache-control": "no-cache",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
    }


def routes(emulator: Emulator) -> list[BaseRoute]:
    """``/`` (the playground), ``/docs`` (Swagger UI) and the static files both pages load."""
    playground_html = _page("index.html")
    docs_html = _page("docs.html")

    async def playground(_: Request) -> Response:
        # Prefill the first channel; its key only when it is the embedded, public demo key: a
        # configured key is never written into a page anyone on the network could load.
        ids = await emulator.channels()
        channel = ids[0] if ids else ""
        key = DEFAULT_API_KEY if emulator.settings.uses_default_channel else ""
        page = playground_html.replace("__VIVI_CHANNEL__", html.escape(channel)).replace(
            "__VIVI_KEY__", html.escape(key)
        )
        return HTMLResponse(page, headers=_headers())

    has_swagger_ui = find_spec(SWAGGER_UI_PACKAGE[0]) is not None

    async def docs(_: Request) -> Response:
        if not has_swagger_ui:
            return HTMLResponse(_MISSING_SWAGGER_UI, status_code=503, headers=_headers())
        return HTMLResponse(docs_html, headers=_headers())

    found: list[BaseRoute] = [
        Route("/", playground, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Mount(
            PAGE_PREFIX,
            app=StaticFiles(packages=[(__name__, "static")]),
            name="playground-static",
        ),
    ]
    if has_swagger_ui:
        found.append(
            Mount(
                SWAGGER_UI_PREFIX,
                app=StaticFiles(packages=[SWAGGER_UI_PACKAGE]),
                name="swagger-ui",
            )
        )
    return found
