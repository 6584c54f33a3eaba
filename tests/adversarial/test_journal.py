"""2. No body, however deeply nested, breaks the journal or the control API.

A 512-byte body of 256 nested arrays once made every later ``GET /_emulator/journal`` a 500.
"""

from __future__ import annotations

import pytest

from tests.adversarial.conftest import Served
from tests.support import AUTH, url

NESTED = "[" * 256 + "]" * 256
DEEP = "[" * 200_000 + "]" * 200_000  # 400 kB: inside the body limit


@pytest.mark.parametrize("body", [NESTED, DEEP, '{"a":' * 5000 + "1" + "}" * 5000])
@pytest.mark.parametrize("operation", ["invoke", "stream", "batch"])
def test_a_nested_body_is_a_422_and_the_journal_stays_readable(
    served: Served, body: str, operation: str
) -> None:
    headers = {**AUTH, "content-type": "application/json"}
    response = served.http.post(url(operation), content=body.encode(), headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "body"
    for _ in range(2):  # read twice: reading must not change anything either
        journal = served.http.get("/_emulator/journal")
        assert journal.status_code == 200, journal.text
        (entry,) = journal.json()["entries"]
        assert entry["status"] == 422
        assert isinstance(entry["body"], str)  # kept as text, not parsed
        assert entry["body"].startswith("[[[[") or entry["body"].startswith('{"a":')
    assert (
        served.http.post(
            url("invoke"), json={"message": "hi", "threadId": THREAD}, headers=AUTH
        ).status_code
        == 200
    )


THREAD = "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/_emulator/queue"),
        ("PUT", "/_emulator/forced"),
        ("POST", "/_emulator/channels"),
        ("POST", "/_emulator/channels/demo-channel/rotate"),
    ],
)
def test_control_endpoints_refuse_deep_json_with_a_4xx(
    served: Served, method: str, path: str
) -> None:
    for body in (NESTED, DEEP):
        response = served.http.request(
            method, path, content=body.encode(), headers={"content-type": "application/json"}
        )
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text[:200])
        assert "detail" in response.json()
    assert "demo-channel" in served.http.get("/_emulator/channels").json()["channels"]
    message = {"message": "hi", "threadId": THREAD}
    assert served.http.post(url("invoke"), json=message, headers=AUTH).status_code == 200


def test_a_queued_status_body_nested_deep_is_answered_or_refused_never_a_500(
    served: Served,
) -> None:
    deep: object = 1
    for _ in range(900):
        deep = {"a": deep}
    queued = served.http.post("/_emulator/queue", json={"status": {"code": 429, "body": deep}})
    if queued.status_code == 201:
        answer = served.http.post(
            url("invoke"), json={"message": "hi", "threadId": THREAD}, headers=AUTH
        )
        assert answer.status_code == 429
    else:
        assert queued.status_code == 422, queued.text
    assert served.http.get("/_emulator/journal").status_code == 200
    assert served.http.get("/_emulator/queue").status_code == 200
