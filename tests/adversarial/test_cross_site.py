"""6. A web page elsewhere can neither drive the control API nor read the emulator.

A cross-site ``POST`` (``Origin: http://evil.example``, ``Content-Type: text/plain``: a "simple"
request a browser sends without asking) once rotated a key or reset the emulator; and any
``Host`` was accepted, so a DNS-rebinding page could read the journal.
"""

from __future__ import annotations

import secrets

import pytest

from tests.adversarial.conftest import Served
from tests.support import AUTH, THREAD, url

EVIL = "http://evil.example"


@pytest.fixture
def victim(served: Served) -> tuple[str, str]:
    """A channel of this test's own, with a known key."""
    channel, key = f"victim-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    served.http.post("/_emulator/channels", json={"id": channel, "key": key}).raise_for_status()
    return channel, key


def _key_works(served: Served, channel: str, key: str) -> bool:
    response = served.http.post(
        url("invoke", channel),
        json={"message": "hi", "threadId": THREAD},
        headers={"vivi-api-key": key},
    )
    return response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": EVIL, "content-type": "text/plain"},
        {"origin": EVIL, "content-type": "application/json"},
        {"origin": "null", "content-type": "text/plain"},
        {"origin": "http://127.0.0.1:1", "content-type": "application/json"},
        {"sec-fetch-site": "cross-site", "content-type": "application/json"},
    ],
    ids=["evil text", "evil json", "null origin", "other port", "sec-fetch cross-site"],
)
def test_a_cross_origin_write_is_refused(
    served: Served, victim: tuple[str, str], headers: dict[str, str]
) -> None:
    channel, key = victim
    rotate = served.http.post(
        f"/_emulator/channels/{channel}/rotate", content=b"{}", headers=headers
    )
    assert rotate.status_code == 403, rotate.text
    assert "cross-origin" in rotate.json()["detail"]
    reset = served.http.post("/_emulator/reset", headers=headers)
    assert reset.status_code == 403
    queued = served.http.post("/_emulator/queue", content=b'{"text": "x"}', headers=headers)
    assert queued.status_code == 403
    assert _key_works(served, channel, key)
    assert served.http.get("/_emulator/queue").json()["queue"] == []


def test_a_write_must_be_json(served: Served, victim: tuple[str, str]) -> None:
    channel, key = victim
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        response = served.http.post(
            f"/_emulator/channels/{channel}/rotate",
            content=b"{}",
            headers={"content-type": content_type},
        )
        assert response.status_code == 415, (content_type, response.text)
        assert "application/json" in response.json()["detail"]
    assert _key_works(served, channel, key)


def test_same_origin_and_non_browser_writes_work(served: Served, victim: tuple[str, str]) -> None:
    channel, _ = victim
    same = {"origin": served.base_url, "sec-fetch-site": "same-origin"}
    assert served.http.post("/_emulator/reset", headers=same).status_code == 200
    rotated = served.http.post(f"/_emulator/channels/{channel}/rotate", json={}, headers=same)
    assert rotated.status_code == 200
    assert _key_works(served, channel, rotated.json()["key"])
    # curl and test code: no Origin, no body, no content type.
    assert served.http.post("/_emulator/reset").status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:80", "192.0.2.1", "localhost.evil.example"]
)
def test_a_foreign_host_name_is_refused_everywhere(served: Served, host: str) -> None:
    message = {"message": "hi", "threadId": THREAD}
    served.http.post(url("invoke"), json=message, headers=AUTH).raise_for_status()
    for response in (
        served.http.get("/_emulator/journal", headers={"host": host}),
        served.http.get("/", headers={"host": host}),
        served.http.post(url("invoke"), json=message, headers={**AUTH, "host": host}),
    ):
        assert response.status_code == 403, (response.url, response.text)
        assert "Host" in response.json()["detail"]


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "[::1]", "app.localhost", "127.0.0.2"])
def test_names_of_this_machine_are_accepted(served: Served, name: str) -> None:
    host = f"{name}:{served.port}"
    assert served.http.get("/_emulator/journal", headers={"host": host}).status_code == 200
    assert served.http.get("/", headers={"host": host}).status_code == 200
