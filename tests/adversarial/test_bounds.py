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
