"""A thread that enters a scenario with turns stays in it, over HTTP, on both state stores."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from vivi_emulator.app import create_app
from vivi_emulator.service import Emulator
from vivi_emulator.settings import Settings

from tests.support import AUTH, THREAD, url

C = "/_emulator"
FIXTURES = """\
scenarios:
  - name: signup
    match: {message: {equals: signup}}
    turns:
      - text: name?
      - text: "email for {{ message }}?"
      - text: done
  - name: flaky
    match: {message: {equals: flaky}}
    turns:
      - status: {code: 503}
      - status: {code: 429}
      - text: ok now
  - name: cycle
    match: {message: {equals: cycle}}
    loop: true
    turns:
      - text: red
      - text: green
  - name: by-turn
    match: {message: {equals: by-turn}}
    sticky: false
    turns:
      - text: first
      - text: second
  - name: signup-b
    match: {message: {equals: other}}
    turns:
      - text: b1
      - text: b2
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "convo.yaml").write_text(FIXTURES)
    return tmp_path


@pytest.fixture
async def emulator(state: str, folder: Path) -> AsyncIterator[Emulator]:
    settings = Settings(access_log=False, reload_fixtures=False, state=state, fixtures=(folder,))
    emulator = Emulator(settings)
    await emulator.start()
    yield emulator
    await emulator.close()


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(emulator.settings, emulator))
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator.test") as client:
        yield client


async def say(client: httpx.AsyncClient, message: str, **headers: str) -> str:
    response = await client.post(
        url("invoke"),
        headers={**AUTH, **{k.replace("_", "-"): v for k, v in headers.items()}},
        json={"message": message, "threadId": THREAD},
    )
    if response.status_code != 200:
        return str(response.status_code)
    message_: str = response.json()["message"]
    return message_


async def choices(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    entries = (await client.get(f"{C}/journal")).json()["entries"]
    return [(e["scenario"], e["chosen_by"]) for e in entries]


async def test_the_thread_stays_in_the_conversation_whatever_it_says(
    client: httpx.AsyncClient,
) -> None:
    replies = [await say(client, m) for m in ("signup", "hello", "signup", "hello")]
    # "hello" would match the greeting; "signup" would enter again: the conversation holds.
    assert replies[:3] == ["name?", "email for hello?", "done"]
    assert replies[3].startswith("Hello!")  # over: the usual choice again
    assert (await choices(client))[:3] == [
        ("signup", "match"),
        ("signup", "conversation"),
        ("signup", "conversation"),
    ]


async def test_a_named_answer_is_an_aside_and_the_steps_go_on(client: httpx.AsyncClient) -> None:
    await client.post(f"{C}/queue", json={"text": "queued", "match": {"message": "q"}})
    replies = [
        await say(client, "signup"),
        await say(client, "hmm", x_vivi_scenario="echo"),
        await say(client, "q"),
        await say(client, "Ada"),
        await say(client, "later", x_vivi_scenario="signup"),
    ]
    assert replies == ["name?", "You said: hmm", "queued", "email for Ada?", "done"]
    assert [c[1] for c in await choices(client)] == [
        "match", "header", "queue", "conversation", "header"
    ]  # fmt: skip


async def test_a_status_step_counts_so_a_retry_gets_the_next(client: httpx.AsyncClient) -> None:
    replies = [await say(client, m) for m in ("flaky", "retry", "retry", "hello")]
    assert replies[:3] == ["503", "429", "ok now"]
    assert replies[3].startswith("Hello!")
    turns = [e["turn"] for e in (await client.get(f"{C}/journal")).json()["entries"]]
    assert turns[:3] == [1, 1, 1]  # the status steps gave their turns back


async def test_a_chaos_status_does_not_use_up_a_step(client: httpx.AsyncClient) -> None:
    assert await say(client, "signup") == "name?"
    always = {"seed": 1, "faults": [{"kind": "status", "code": 503, "rate": 1}]}
    await client.put(f"{C}/chaos", json=always)
    assert await say(client, "Ada") == "503"
    await client.put(f"{C}/chaos", json={"faults": []})
    assert await say(client, "Ada") == "email for Ada?"


async def test_loop_starts_again_and_stays(client: httpx.AsyncClient) -> None:
    replies = [await say(client, m) for m in ("cycle", "a", "b", "signup", "c")]
    assert replies == ["red", "green", "red", "green", "red"]


async def test_sticky_false_answers_by_the_threads_turn(client: httpx.AsyncClient) -> None:
    # Turn 1 matches something else; by-turn then answers item n to turn n, the last repeats,
    # and every message is chosen anew.
    replies = [await say(client, m) for m in ("x", "by-turn", "by-turn", "hello")]
    assert replies[1:3] == ["second", "second"]
    assert replies[3].startswith("Hello!")


async def test_a_scenario_with_turns_named_anew_starts_its_own_conversation(
    client: httpx.AsyncClient,
) -> None:
    replies = [
        await say(client, "signup"),
        await say(client, "x", x_vivi_scenario="signup-b"),
        await say(client, "y"),
        await say(client, "z"),
    ]
    assert replies[:3] == ["name?", "b1", "b2"]
    assert replies[3].startswith("You said")  # signup-b is over; signup was left


async def test_a_conversation_whose_scenario_is_reloaded_away_ends(
    client: httpx.AsyncClient, emulator: Emulator, folder: Path
) -> None:
    assert await say(client, "signup") == "name?"
    (folder / "convo.yaml").write_text("scenarios: []\n")
    await emulator.reload_scenarios()
    assert await say(client, "Ada") == "You said: Ada"
