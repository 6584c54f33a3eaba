"""14. On a non-loopback bind the control API's OpenAPI document needs the admin token, and a
control 422 never echoes the request's input back."""

from __future__ import annotations

from tests.adversarial.conftest import ADMIN_HEADER as HEADER
from tests.adversarial.conftest import ADMIN_TOKEN as TOKEN
from tests.adversarial.conftest import Served


def test_the_control_openapi_document_needs_the_token(exposed: Served) -> None:
    assert exposed.http.get("/_emulator/openapi.json").status_code == 401
    wrong = exposed.http.get("/_emulator/openapi.json", headers={HEADER: "**********"})
    assert wrong.status_code == 401
    right = exposed.http.get("/_emulator/openapi.json", headers={HEADER: TOKEN})
    assert right.status_code == 200
    assert right.json()["info"]["title"] == "vivi-emulator control API"


def test_the_vivi_contract_stays_public(exposed: Served) -> None:
    assert exposed.http.get("/openapi.json").status_code == 200
    assert exposed.http.get("/_emulator/health").status_code == 200


def test_a_control_422_names_fields_without_echoing_the_input(served: Served) -> None:
    secret = "do-not-echo-me-" + "x" * 600  # too long for a key: a 422
    response = served.http.post("/_emulator/channels", json={"id": "echo-test", "key": secret})
    assert response.status_code == 422, response.text
    assert "do-not-echo-me" not in response.text
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert body["errors"] == [
        {"field": "key", "reason": "String should have at most 500 characters"}
    ]
    # A body that is not JSON at all, and a query value of the wrong type.
    broken = served.http.post(
        "/_emulator/channels",
        content=b'{"id": "do-not-echo-me", ',
        headers={"content-type": "application/json"},
    )
    assert broken.status_code == 422, broken.text
    assert "do-not-echo-me" not in broken.text
    assert set(broken.json()) == {"detail", "errors"}
    limit = served.http.get("/_emulator/journal", params={"limit": "do-not-echo-me"})
    assert limit.status_code == 422
    assert "do-not-echo-me" not in limit.text
    assert limit.json()["errors"][0]["field"] == "limit"
