"""The README's examples of rate limits and structured output (sections "Rate limits and token
quotas" and "Structured output"): run by the test suite (tests/pytest_plugin/test_fixture.py)."""

import json
import time
import uuid

import requests


def test_my_client_backs_off_on_429(vivi_emulator):
    # Two requests at once, then one a second: the third waits for Retry-After.
    vivi_emulator.rate_limits(requests_per_minute=60, requests_burst=2)
    url = f"{vivi_emulator.base_url}/channelsApi/{vivi_emulator.channel_id}/invoke"
    headers = {"vivi-api-key": vivi_emulator.api_key}

    def send():
        body = {"message": "hello", "threadId": str(uuid.uuid4())}
        return requests.post(url, headers=headers, json=body, timeout=10)

    first, second, third = send(), send(), send()
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert second.headers["x-ratelimit-remaining-requests"] == "0"
    assert third.status_code == 429
    assert "requests per minute" in third.json()["detail"]
    time.sleep(int(third.headers["retry-after"]))
    assert send().status_code == 200


def test_my_client_reads_structured_output(vivi_emulator):
    vivi_emulator.structured_output(
        {
            "type": "object",
            "properties": {
                "order_id": {"type": "string"},
                "status": {"type": "string", "enum": ["shipped", "pending"]},
            },
            "required": ["order_id", "status"],
            "additionalProperties": False,
        }
    )
    vivi_emulator.queue_reply(structured={"order_id": "A-17", "status": "shipped"})
    base = f"{vivi_emulator.base_url}/channelsApi/{vivi_emulator.channel_id}"
    headers = {"vivi-api-key": vivi_emulator.api_key}
    body = {"message": "where is my order?", "threadId": str(uuid.uuid4())}

    answer = requests.post(f"{base}/invoke", headers=headers, json=body, timeout=10)
    assert json.loads(answer.json()["message"]) == {"order_id": "A-17", "status": "shipped"}
    # Streaming is disabled while structured output is on.
    streamed = requests.post(f"{base}/stream", headers=headers, json=body, timeout=10)
    assert streamed.status_code == 409
