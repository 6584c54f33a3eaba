"""guard.Guard: foreign Host names (DNS rebinding) and cross-origin control requests refused.

The real-server reproductions are in tests/adversarial/test_cross_site.py; these check the rules
in-process, setting by setting.
"""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from vivi_emulator.app import create_app
from vivi_emulator.settings import Settings, load_settings

from tests.support import AUTH, THREAD, url


async def _status(settings: Settings, host: str, path: str = "/_emulator/channels") -> int:
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator.test"
    ) as client:
        return (await client.get(path, headers={"host": host})).status_code


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("localhost", 200),
        ("LOCALHOST:8000", 200),
        ("localhost.:8000", 200),
        ("api.localhost:8000", 200),
        ("127.0.0.1:8000", 200),
        ("127.9.9.9", 200),
        ("[::1]:8000", 200),
        ("vivi-emulator.test", 200),  # the pytest plugin's in-process name
        ("testserver", 200),  # Starlette's TestClient
        ("evil.example", 403),
        ("localhost.evil.example", 403),
        ("10.0.0.8:8000", 403),
        ("[::2]", 403),
        ("localhost:notaport", 403),
        ("", 403),
    ],
)
async def test_a_loopback_bind_answers_only_this_machines_names(host: str, status: int) -> None:
    assert await _status(Settings(access_log=False), host) == status


async def test_the_vivi_surface_is_guarded_too() -> None:
    app = create_app(Settings(access_log=False))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://evil.example"
    ) as client:
        message = {"message": "hi", "threadId": THREAD}
        response = await client.post(url("invoke"), json=message, headers=AUTH)
        assert response.status_code == 403
        assert "DNS rebinding" in response.json()["detail"]
        assert (await client.get("/")).status_code == 403


@pytest.mark.parametrize(
    ("allowed", "host", "status"),
    [
        (("my-box.lan",), "my-box.lan:8000", 200),
        (("my-box.lan",), "other.lan", 403),
        ((".example.test",), "a.b.example.test", 200),
        ((".corp.example",), "corp.example", 200),
        ((".corp.example",), "evilcorp.example", 403),
        (("*",), "anything.example", 200),
    ],
)
async def test_allowed_hosts_adds_names(allowed: tuple[str, ...], host: str, status: int) -> None:
    settings = Settings(access_log=False, allowed_hosts=allowed)
    assert await _status(settings, host) == status
    assert await _status(settings, "localhost") == 200


async def test_another_bind_answers_any_name_unless_allowed_hosts_is_set() -> None:
    exposed = Settings(access_log=False, host="0.0.0.0", admin_token=SecretStr("t0k"))
    assert await _status(exposed, "emulator.internal", "/_emulator/health") == 200
    limited = exposed.model_copy(update={"allowed_hosts": ("emulator.internal",)})
    assert await _status(limited, "emulator.internal", "/_emulator/health") == 200
    assert await _status(limited, "evil.example", "/_emulator/health") == 403


def test_allowed_hosts_from_the_environment() -> None:
    settings = load_settings(environ={"VIVI_EMULATOR_ALLOWED_HOSTS": "a.lan, .b.lan,"})
    assert settings.allowed_hosts == ("a.lan", ".b.lan")


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("http://emulator.test", 200),
        ("http://EMULATOR.test:80", 200),
        ("https://emulator.test", 403),  # another scheme is another origin
        ("http://emulator.test:8080", 403),
        ("http://evil.example", 403),
        ("null", 403),
        ("http://emulator.test/path", 403),
    ],
)
async def test_a_control_request_from_another_origin_is_refused(
    client: httpx.AsyncClient, origin: str, status: int
) -> None:
    response = await client.post("/_emulator/reset", headers={"origin": origin})
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("site", "status"), [("same-origin", 200), ("none", 200), ("same-site", 403)]
)
async def test_sec_fetch_site_is_honoured(
    client: httpx.AsyncClient, site: str, status: int
) -> None:
    response = await client.get("/_emulator/journal", headers={"sec-fetch-site": site})
    assert response.status_code == status


async def test_the_vivi_surface_takes_cross_origin_requests(client: httpx.AsyncClient) -> None:
    # Only the control API is guarded by origin: a client page elsewhere calls VIVI with its key.
    message = {"message": "hi", "threadId": THREAD}
    headers = {**AUTH, "origin": "http://localhost:3000"}
    assert (await client.post(url("invoke"), json=message, headers=headers)).status_code == 200


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        (None, b"", 200),
        ("application/json", b"{}", 200),
        ("application/json; charset=utf-8", b"{}", 200),
        ("text/plain", b"{}", 415),
        ("text/plain", b"", 415),
        ("application/x-www-form-urlencoded", b"a=b", 415),
    ],
)
async def test_a_control_write_must_be_json(
    client: httpx.AsyncClient, content_type: str | None, body: bytes, status: int
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post(
        "/_emulator/channels/demo-channel/rotate", content=body, headers=headers
    )
    assert response.status_code == status, response.text
    if status == 415:
        assert response.json()["detail"].startswith("Content-Type must be application/json")
