"""The README's fixture tutorial (docs/examples/fixtures) loads and does what the README says."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from vivi_emulator.settings import Settings

from tests.support import AUTH, THREAD, sse_events, url

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "examples" / "fixtures"


@pytest.fixture
def settings() -> Settings:
    return Settings(access_log=False, reload_fixtures=False, fixtures=(TUTORIAL,), seed=1)


async def test_order_status_matches_and_templates(client: httpx.AsyncClient) -> None:
    body = {"message": "Order #1234", "threadId": THREAD}
    response = await client.post(url("invoke"), headers=AUTH, json=body)
    assert response.json()["message"] == (
        "Your order Order #1234 is on its way and should arrive tomorrow."
    )


async def test_onboarding_conversation(client: httpx.AsyncClient) -> None:
    replies = []
    for message in ("start", "start Ada", "start again", "start more"):
        body = {"message": message, "threadId": THREAD}
        replies.append(
            (await client.post(url("invoke"), headers=AUTH, json=body)).json()["message"]
        )
    assert replies == [
        "Welcome! What is your name?",
        "Nice to meet you, start Ada. What would you like to do?",
        "Let me look into that for you.",
        "Let me look into that for you.",
    ]


async def test_weather_tool_call(client: httpx.AsyncClient) -> None:
    body = {"message": "weather in Paris?", "threadId": THREAD}
    response = await client.post(url("stream"), headers=AUTH, json=body)
    events = [e["event"] for e in sse_events(response.content)]
    assert events[1:3] == ["on_tool_start", "on_tool_end"]


async def test_busy_by_name(client: httpx.AsyncClient) -> None:
    body = {"message": "anything", "threadId": THREAD}
    response = await client.post(
        url("invoke"), headers={**AUTH, "x-vivi-scenario": "busy"}, json=body
    )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"


async def test_defaults_are_still_there(client: httpx.AsyncClient) -> None:
    body = {"message": "hello", "threadId": THREAD}
    response = await client.post(url("invoke"), headers=AUTH, json=body)
    assert response.json()["message"].startswith("Hello! I am the VIVI emulator")
