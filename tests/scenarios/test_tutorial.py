"""The README's fixture tutorial (docs/examples/fixtures) loads and does what the README says,
on both state stores (a conversation lives in the thread's state)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from vivi_emulator.settings import Settings

from tests.support import AUTH, THREAD, serving, sse_events, url

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "examples" / "fixtures"


@pytest.fixture
async def client(state: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        access_log=False, reload_fixtures=False, fixtures=(TUTORIAL,), seed=1, state=state
    )
    async with serving(settings) as client:
        yield client


async def ask(client: httpx.AsyncClient, message: str, thread: str = THREAD) -> httpx.Response:
    return await client.post(
        url("invoke"), headers=AUTH, json={"message": message, "threadId": thread}
    )


async def test_order_status_matches_and_templates(client: httpx.AsyncClient) -> None:
    response = await ask(client, "Order #1234")
    assert response.json()["message"] == (
        "Your order Order #1234 is on its way and should arrive tomorrow."
    )


async def test_onboarding_conversation_holds_unforced(client: httpx.AsyncClient) -> None:
    replies = []
    for message in ("start", "Alice", "book a flight", "book a flight"):
        replies.append((await ask(client, message)).json()["message"])
    assert replies == [
        "Welcome! What is your name?",
        "Nice to meet you, Alice. What would you like to do?",
        "Let me look into that for you: book a flight.",
        # The conversation is over: the usual choice (here the default) answers again.
        "You said: book a flight",
    ]
    (*_, last) = (await client.get("/_emulator/journal")).json()["entries"]
    assert (last["scenario"], last["chosen_by"]) == ("echo", "default")
    steps = (await client.get("/_emulator/journal")).json()["entries"][1:3]
    assert [(e["scenario"], e["chosen_by"]) for e in steps] == [("onboarding", "conversation")] * 2


async def test_retry_once_fails_then_answers(client: httpx.AsyncClient) -> None:
    first = await ask(client, "my invoice, please")
    assert first.status_code == 503
    assert first.headers["retry-after"] == "1"
    again = await ask(client, "my invoice, please")
    assert again.json()["message"] == "Thanks for waiting. Your invoice is attached."


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
    response = await ask(client, "hello")
    assert response.json()["message"].startswith("Hello! I am the VIVI emulator")
