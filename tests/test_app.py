"""The app serves exactly the contract's operations, and the contract itself, unchanged."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import yaml
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from vivi_emulator.paths import CONTROL_PREFIX
from vivi_emulator.resources import contract_path
from vivi_emulator.spec import as_openapi_32

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Routes that are the emulator's own, never part of the VIVI contract.
EMULATOR_OWN = ("/openapi.json", "/openapi.yaml", "/openapi-3.2.json", "/docs", "/")


def _operations(routes: list[BaseRoute], prefix: str = "") -> set[tuple[str, str]]:
    found = set()
    for route in routes:
        if isinstance(route, Mount):
            found |= _operations(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            for method in route.methods or ():
                if method != "HEAD":  # Starlette adds HEAD to every GET route
                    found.add((method.lower(), prefix + route.path))
    return found


def test_vivi_routes_are_exactly_the_contract_operations(app: Starlette) -> None:
    contract = yaml.safe_load(contract_path().read_text())
    documented = {
        (method, path)
        for path, item in contract["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    served = _operations(app.router.routes)
    vivi = {(m, p) for m, p in served if p.startswith("/channelsApi/")}
    assert vivi == documented
    others = served - vivi
    for _, path in others:
        assert path in EMULATOR_OWN or path.startswith(CONTROL_PREFIX + "/"), path


def test_control_routes_stay_out_of_the_contract() -> None:
    contract = yaml.safe_load(contract_path().read_text())
    assert not [p for p in contract["paths"] if not p.startswith("/channelsApi/{channelId}/")]


def _unmarked_properties(node: object, where: str = "") -> Iterator[str]:
    """Every property of the contract's schemas without an ``x-vivi-source`` mark."""
    if isinstance(node, dict):
        if "properties" in node:
            for name, prop in node["properties"].items():
                if "x-vivi-source" not in prop:
                    yield f"{where}.properties.{name}"
        for key, value in node.items():
            yield from _unmarked_properties(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _unmarked_properties(value, f"{where}[{index}]")


def test_every_operation_and_property_says_its_source() -> None:
    contract = yaml.safe_load(contract_path().read_text())
    unmarked_operations = [
        f"{method} {path}"
        for path, item in contract["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
        and operation.get("x-vivi-source") not in {"documented", "inferred"}
    ]
    assert [*unmarked_operations, *_unmarked_properties(contract)] == []


async def test_contract_is_served_unchanged(client: httpx.AsyncClient) -> None:
    as_json = await client.get("/openapi.json")
    assert as_json.status_code == 200
    assert as_json.json() == yaml.safe_load(contract_path().read_text())
    as_yaml = await client.get("/openapi.yaml")
    assert as_yaml.content == contract_path().read_bytes()


async def test_the_contract_is_served_as_openapi_3_2_too(client: httpx.AsyncClient) -> None:
    """The same document, each stream event an `itemSchema` (3.2's word for it)."""
    contract = yaml.safe_load(contract_path().read_text())
    served = (await client.get("/openapi-3.2.json")).json()
    assert served["openapi"] == "3.2.0"
    stream = served["paths"]["/channelsApi/{channelId}/stream"]["post"]["responses"]["200"]
    media = stream["content"]["text/event-stream"]
    assert "schema" not in media
    assert media["itemSchema"] == {"$ref": "#/components/schemas/StreamEventFrame"}
    # Nothing else differs; a 3.2 document is left as it is.
    assert as_openapi_32(served) == served
    media["schema"] = media.pop("itemSchema")
    assert {**served, "openapi": contract["openapi"]} == contract


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{CONTROL_PREFIX}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
