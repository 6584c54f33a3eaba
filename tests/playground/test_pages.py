"""The playground (``/``) and the API docs (``/docs``) in-process: served, offline, typed right."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from vivi_emulator import playground
from vivi_emulator.app import create_app
from vivi_emulator.playground import PAGE_CSP
from vivi_emulator.settings import Channel, Settings

BASE = "http://emulator.test"
URL = re.compile(r"https?://[^\s\"'`<>()\\]+")
# Names of XML namespaces are identifiers, never fetched.
NAMESPACES = {"http://www.w3.org/2000/svg"}
CONTENT_TYPES = {
    ".js": {"text/javascript", "application/javascript"},
    ".css": {"text/css"},
    ".svg": {"image/svg+xml"},
    ".png": {"image/png"},
}


class _Page(HTMLParser):
    """The URLs a page makes the browser load or link to, and the text it shows."""

    def __init__(self) -> None:
        super().__init__()
        self.references: list[str] = []
        self.attribute_values: list[str] = []
        self.meta: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self._label_for: str | None = None
        self.buttons: list[tuple[str, str]] = []
        self._button: list[str] | None = None
        self._button_id = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.attribute_values.extend(values.values())
        for name in ("src", "href"):
            if name in values:
                self.references.append(values[name])
        if tag == "meta" and "name" in values:
            self.meta[values["name"]] = values.get("content", "")
        if tag == "label" and "for" in values:
            self._label_for = values["for"]
            self.labels[self._label_for] = ""
        if tag == "button":
            self._button = []
            self._button_id = values.get("id", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_for = None
        if tag == "button" and self._button is not None:
            self.buttons.append((self._button_id, "".join(self._button).strip()))
            self._button = None

    def handle_data(self, data: str) -> None:
        if self._label_for is not None:
            self.labels[self._label_for] += data
        if self._button is not None:
            self._button.append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def foreign_urls(text: str) -> list[str]:
    return [url for url in URL.findall(text) if url not in NAMESPACES]


async def test_the_playground_is_served_at_the_root(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == PAGE_CSP
    assert "connect-src 'self'" in PAGE_CSP
    assert "default-src 'none'" in PAGE_CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    page = parse(response.text)
    assert page.labels["message"].strip() == "Message"
    assert ("send", "Send") in page.buttons
    for field in ("channel", "api-key", "thread", "user-id", "scenario", "files"):
        assert page.labels[field].strip(), field
    # The embedded defaults are public: both are prefilled.
    assert page.meta["vivi-default-channel"] == "demo-channel"
    assert page.meta["vivi-default-key"] == "demo-key"


@pytest.mark.parametrize(
    "settings",
    [
        Settings(
            access_log=False,
            channels=(
                Channel(id='team<"bot">', key=SecretStr("team-secret")),
                Channel(id="other", key=SecretStr("other-secret")),
            ),
        )
    ],
)
async def test_a_configured_key_is_never_written_into_the_page(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/")
    assert "secret" not in response.text
    page = parse(response.text)
    assert page.meta["vivi-default-channel"] == 'team<"bot">'  # escaped in the HTML, read back
    assert page.meta["vivi-default-key"] == ""
    assert '<"bot">' not in response.text


async def test_the_api_docs_are_served_from_installed_files(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == PAGE_CSP
    references = parse(response.text).references
    assert "/docs/swagger-ui/swagger-ui-bundle.js" in references
    assert "/docs/swagger-ui/swagger-ui.css" in references
    bundle = await client.get("/docs/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert len(bundle.content) > 500_000  # the real swagger-ui bundle, not a stub
    assert b"SwaggerUIBundle" in bundle.content
    # Swagger UI fetches a validator badge from another origin unless told not to.
    initializer = (await client.get("/playground/docs.js")).text
    assert "validatorUrl: null" in initializer
    assert '"/openapi.json"' in initializer


async def _assets(client: httpx.AsyncClient, page_path: str) -> dict[str, httpx.Response]:
    """Every same-origin file a page loads, found by following its src/href (and CSS url())."""
    found: dict[str, httpx.Response] = {}
    todo = [
        urljoin(page_path, ref)
        for ref in parse((await client.get(page_path)).text).references
        if not ref.startswith(("#", "data:"))
    ]
    while todo:
        path = todo.pop()
        parts = urlsplit(path)
        assert (parts.scheme, parts.netloc) == ("", ""), f"{page_path} loads {path}"
        if path in found:
            continue
        found[path] = response = await client.get(path)
        if path.endswith(".css"):
            for ref in re.findall(r"url\(\s*['\"]?([^'\")]+)", response.text):
                if not ref.startswith("data:"):
                    todo.append(urljoin(path, ref))
    return found


@pytest.mark.parametrize("page_path", ["/", "/docs"])
async def test_every_asset_is_served_with_its_content_type(
    client: httpx.AsyncClient, page_path: str
) -> None:
    assets = await _assets(client, page_path)
    assert assets
    for path, response in assets.items():
        if path in {"/openapi.json", "/openapi.yaml", "/docs", "/"}:
            continue  # pages and the contract, tested where they are served
        assert response.status_code == 200, path
        suffix = path[path.rindex(".") :]
        media_type = response.headers["content-type"].split(";")[0]
        assert media_type in CONTENT_TYPES[suffix], (path, media_type)


@pytest.mark.parametrize("page_path", ["/", "/docs"])
async def test_own_files_name_no_other_origin(client: httpx.AsyncClient, page_path: str) -> None:
    """No URL of another origin, except in text a person reads (never in a tag's attributes).

    Swagger UI's own bundle is the package's file, unchanged: the browser tests prove it reaches
    no other origin, and the Content-Security-Policy would refuse it if it tried.
    """
    page = (await client.get(page_path)).text
    parsed = parse(page)
    assert [v for v in parsed.attribute_values if foreign_urls(v)] == []
    for path, response in (await _assets(client, page_path)).items():
        if path.startswith("/playground/"):
            assert foreign_urls(response.text) == [], path


async def test_unknown_static_files_are_json_404s(client: httpx.AsyncClient) -> None:
    for path in ("/playground/nope.js", "/docs/swagger-ui/nope.js", "/playground/../app.py"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/json"


async def test_page_templates_are_not_served_raw(client: httpx.AsyncClient) -> None:
    assert (await client.get("/playground/index.html")).status_code == 404
    assert (await client.get("/playground/pages/index.html")).status_code == 404


async def test_without_swagger_ui_files_the_docs_page_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.setattr(playground, "find_spec", lambda _name: None)
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        response = await client.get("/docs")
        assert response.status_code == 503
        assert "fastapi-offline" in response.text
        assert (await client.get("/")).status_code == 200
