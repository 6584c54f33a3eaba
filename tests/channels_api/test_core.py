"""The core's operations and the ASGI app's route table are one list (no second router), and
the core serves exactly the requests those routes match with their method."""

from __future__ import annotations

import pytest
from starlette.routing import Match, Route

from vivi_emulator.app import create_app
from vivi_emulator.channels_api.core import ROUTE_PATH_CACHED, ROUTES_CACHED
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


def test_a_route_is_made_once_per_method_and_path() -> None:
    core = create_app(Settings(access_log=False, reload_fixtures=False)).core
    first = core.route("POST", "/channelsApi/demo-channel/invoke")
    assert first is not None
    assert core.route("POST", "/channelsApi/demo-channel/invoke") is first
    assert (first.channel, first.operation) == ("demo-channel", "invoke")
    assert first.log_head == "POST /channelsApi/demo-channel/invoke channel=demo-channel"
    download = core.route("GET", "/channelsApi/demo-channel/files/abc/report.pdf")
    assert download is not None
    assert download.operation == "files/abc/report.pdf"  # the handler reads its id and name


def test_a_long_path_is_routed_but_never_kept() -> None:
    core = create_app(Settings(access_log=False, reload_fixtures=False)).core
    path = "/channelsApi/" + "c" * ROUTE_PATH_CACHED + "/invoke"
    first = core.route("POST", path)
    assert first is not None
    assert first.channel == "c" * ROUTE_PATH_CACHED
    assert core.route("POST", path) is not first


def test_the_routes_kept_are_bounded() -> None:
    core = create_app(Settings(access_log=False, reload_fixtures=False)).core
    first = core.route("POST", "/channelsApi/c0/invoke")
    for n in range(1, ROUTES_CACHED + 1):
        core.route("POST", f"/channelsApi/c{n}/invoke")
    assert core.route("POST", "/channelsApi/c0/invoke") is not first  # emptied once full
