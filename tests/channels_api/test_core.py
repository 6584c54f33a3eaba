"""The core's operations and the ASGI app's route table are one list (no second router), and
the core serves exactly the requests those routes match with their method."""

from __future__ import annotations

import pytest
from starlette.routing import Match, Route

from vivi_emulator.app import create_app
from vivi_emulator.settings import Settings


def _vivi_routes() -> list[Route]:
    app = create_app(Settings(access_log=False, reload_fixtures=False))
    return [r for r in app.router.routes if isinstance(r, Route) and "/channelsApi/" in r.path]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/channelsApi/demo-channel/stream"),
        ("POST", "/channelsApi/demo-channel/invoke"),
        ("POST", "/channelsApi/demo-channel/batch"),
        ("POST", "/channelsApi/demo-channel/files"),
        ("GET", "/channelsApi/demo-channel/files/abc/report.pdf"),
        ("GET", "/channelsApi/demo-channel/stream"),  # a wrong method: the router's 405
        ("POST", "/channelsApi/demo-channel/files/abc"),
        ("GET", "/channelsApi/demo-channel/files//report.pdf"),
        ("POST", "/channelsApi//stream"),
        ("POST", "/channelsApi/demo-channel/stream/"),
        ("POST", "/channelsApi/demo-channel/other"),
    ],
)
def test_the_core_serves_what_the_routes_match_and_nothing_else(method: str, path: str) -> None:
    app = create_app(Settings(access_log=False, reload_fixtures=False))
    scope = {"type": "http", "method": method, "path": path}
    matched = any(r.matches(scope)[0] == Match.FULL for r in _vivi_routes())
    assert (app.core.route(method, path) is not None) == matched


def test_every_route_is_an_operation_of_the_core() -> None:
    app = create_app(Settings(access_log=False, reload_fixtures=False))
    routes = {(m, r.path) for r in _vivi_routes() for m in (r.methods or ()) if m != "HEAD"}
    assert len(routes) == len(app.core.handlers) == 5
