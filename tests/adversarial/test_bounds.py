"""Numbers past their caps, echoed input and duplicate keys: clear 4xx answers, on both servers.

Issue 21: a latency of -1000 ms or 1e300 ms through the control API was a 500 (item 3); a
gateway timeout of 1e308 s was accepted as a queued reply's wire option (item 7).
"""

from __future__ import annotations

import pytest

from tests.adversarial.conftest import Served

C = "/_emulator"


@pytest.mark.parametrize("value", [-1000, 1e300])
def test_a_latency_out_of_bounds_is_a_422_naming_the_field(served: Served, value: float) -> None:
    response = served.http.put(f"{C}/latency", json={"profile": {"first_event": value}})
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["profile.first_event"]


@pytest.mark.parametrize(
    "wire",
    [
        {"preset": "gateway-timeout", "timeout_seconds": 1e308},
        {"split": {"every": 1, "gap_ms": 1e9}},
        {"retry_ms": 10**30},
    ],
)
def test_a_queued_reply_waiting_past_the_cap_is_a_422(
    served: Served, wire: dict[str, object]
) -> None:
    response = served.http.post(f"{C}/queue", json={"text": "hi", "wire": wire})
    assert response.status_code == 422, response.text
    assert {e["field"].split(".")[0] for e in response.json()["errors"]} == {"wire"}


LONG = "x" * 60_000


def _cut(text: str) -> bool:
    """Whether an answer repeats the long input cut, saying how long it was."""
    return LONG[:1000] not in text and " characters)" in text and len(text) < 2000


def test_an_unknown_channel_id_is_echoed_cut(served: Served) -> None:
    """9. A 60,000-character channel id came back whole in the 404 body."""
    response = served.http.post(
        f"/channelsApi/{LONG}/invoke", headers={"vivi-api-key": "demo-key"}, json={}
    )
    assert response.status_code == 404
    assert _cut(response.json()["detail"])
    assert LONG not in served.log()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"content-type": f"text/{LONG}"}, 415),
        ({"content-type": "application/json", "x-vivi-scenario": LONG}, 422),
    ],
)
def test_a_long_header_is_echoed_cut(served: Served, headers: dict[str, str], status: int) -> None:
    body = b'{"message": "hi", "threadId": "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"}'
    response = served.http.post(
        "/channelsApi/demo-channel/invoke",
        headers={"vivi-api-key": "demo-key", **headers},
        content=body,
    )
    assert response.status_code == status, response.text
    assert _cut(response.text)
    journal = served.http.get(f"{C}/journal").text
    assert LONG not in journal


def test_a_foreign_host_is_echoed_cut(served: Served) -> None:
    response = served.http.get("/", headers={"host": f"{LONG}.example"})
    assert response.status_code == 403
    assert _cut(response.json()["detail"])
