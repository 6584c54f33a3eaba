"""Rate limits and token quotas per channel (ratelimits.py, gate.py): in-process on each state
backend, and across two ``serve`` processes sharing one Redis."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from vivi_emulator.app import create_app
from vivi_emulator.contract.options import RunOptions
from vivi_emulator.contract.run import check_conformance
from vivi_emulator.ratelimit_rules import RateLimits
from vivi_emulator.ratelimits import message_tokens
from vivi_emulator.resources import contract_path
from vivi_emulator.settings import Settings, load_settings

from tests.server import Running
from tests.support import AUTH, serving, two_servers, url

C = "/_emulator"
GREETING = "Hello! I am the VIVI emulator. How can I help you today?"
COST = message_tokens("hello", GREETING)  # what one "hello" costs: the documented rule


def body(message: str = "hello") -> dict[str, str]:
    return {"message": message, "threadId": str(uuid.uuid4())}


def limited(state: str, **settings: object) -> Settings:
    return Settings.model_validate({"access_log": False, "state": state, **settings})


@pytest.fixture
async def client(state: str) -> AsyncIterator[httpx.AsyncClient]:
    """A channel limited to 3 requests at once, one more a minute (no refill during a test)."""
    limits = {"requests_per_minute": 1, "requests_burst": 3}
    async with serving(limited(state, rate_limits=limits)) as client:
        yield client


def remaining(response: httpx.Response, kind: str = "requests") -> int:
    return int(response.headers[f"x-ratelimit-remaining-{kind}"])


async def test_headers_count_down_then_a_429_names_the_limit(client: httpx.AsyncClient) -> None:
    answers = [await client.post(url("invoke"), json=body(), headers=AUTH) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [remaining(a) for a in answers] == [2, 1, 0, 0]
    assert {a.headers["x-ratelimit-limit-requests"] for a in answers} == {"1"}
    # One request spent of a bucket refilled at one a minute: full again in 60 s.
    assert float(answers[0].headers["x-ratelimit-reset-requests"]) == pytest.approx(60, abs=1)
    refused = answers[3]
    assert refused.headers["retry-after"] == "60"
    assert refused.json()["detail"] == (
        "rate limit exceeded: requests per minute (1 requests a minute (burst 3)); retry after 60 s"
    )
    assert "x-ratelimit-limit-tokens" not in refused.headers  # only the limits that apply


async def test_the_journal_records_each_decision(client: httpx.AsyncClient) -> None:
    for _ in range(4):
        await client.post(url("invoke"), json=body(), headers=AUTH)
    entries = (await client.get(f"{C}/journal")).json()["entries"]
    assert [e["limit"] for e in entries] == [
        "admitted: requests 2/3 left",
        "admitted: requests 1/3 left",
        "admitted: requests 0/3 left",
        "refused: requests per minute; retry after 60 s; requests 0/3 left",
    ]
    assert [e["status"] for e in entries] == [200, 200, 200, 429]


async def test_a_refused_message_opens_no_turn_and_keeps_its_queued_reply(
    client: httpx.AsyncClient,
) -> None:
    thread = str(uuid.uuid4())
    for _ in range(3):
        await client.post(url("invoke"), json=body(), headers=AUTH)
    await client.post(f"{C}/queue", params={"channel": "demo-channel"}, json={"text": "queued"})
    refused = await client.post(
        url("invoke"), json={"message": "hi", "threadId": thread}, headers=AUTH
    )
    assert refused.status_code == 429
    assert (await client.get(f"{C}/queue")).json()["queue"] == ["queued-1"]
    # Limits off for the channel (a run-time setting without limits): the message passes.
    await client.put(f"{C}/rate-limits", params={"channel": "demo-channel"}, json={})
    answer = await client.post(
        url("invoke"), json={"message": "hi", "threadId": thread}, headers=AUTH
    )
    assert answer.json()["message"] == "queued"
    entries = (await client.get(f"{C}/journal", params={"thread": thread})).json()["entries"]
    assert [(e["status"], e["turn"]) for e in entries] == [(429, 1), (200, 1)]


async def test_a_batch_draws_once_per_item(client: httpx.AsyncClient) -> None:
    two = {"messages": [body(), body()]}
    answer = await client.post(url("batch"), json=two, headers=AUTH)
    assert (answer.status_code, remaining(answer)) == (200, 1)
    refused = await client.post(url("batch"), json=two, headers=AUTH)
    assert refused.status_code == 429
    assert "requests per minute" in refused.json()["detail"]


@pytest.mark.parametrize("state", ["memory"])
async def test_tokens_are_the_message_and_the_reply(state: str) -> None:
    limits = {"tokens_per_minute": 1, "tokens_burst": 2 * COST + COST // 2}
    async with serving(limited(state, rate_limits=limits)) as client:
        answers = [await client.post(url("invoke"), json=body(), headers=AUTH) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    burst = 2 * COST + COST // 2
    assert [remaining(a, "tokens") for a in answers] == [
        burst - COST,
        burst - 2 * COST,
        burst - 2 * COST,
    ]
    assert answers[0].headers["x-ratelimit-limit-tokens"] == "1"
    assert "tokens per minute" in answers[2].json()["detail"]
    # Missing: COST - COST // 2 tokens, at one a minute.
    assert answers[2].headers["retry-after"] == str(60 * (COST - COST // 2))


@pytest.mark.parametrize("state", ["memory"])
async def test_a_message_over_the_token_burst_can_never_pass(state: str) -> None:
    limits = {"tokens_per_minute": 1000, "tokens_burst": COST - 1}
    async with serving(limited(state, rate_limits=limits)) as client:
        refused = await client.post(url("invoke"), json=body(), headers=AUTH)
    assert refused.status_code == 429
    assert "retry-after" not in refused.headers
    assert refused.json()["detail"].endswith(
        f"needs {COST} tokens, over the burst of {COST - 1}: it can never pass"
    )


@pytest.mark.parametrize("state", ["memory"])
async def test_one_setting_turns_the_headers_off(state: str) -> None:
    settings = limited(
        state, rate_limits={"requests_per_minute": 1, "requests_burst": 1}, rate_limit_headers=False
    )
    async with serving(settings) as client:
        answer = await client.post(url("invoke"), json=body(), headers=AUTH)
        refused = await client.post(url("invoke"), json=body(), headers=AUTH)
    assert not [h for h in answer.headers if h.startswith("x-ratelimit")]
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"
    assert not [h for h in refused.headers if h.startswith("x-ratelimit")]


@pytest.mark.parametrize("state", ["memory"])
async def test_limits_per_channel_at_run_time(state: str) -> None:
    async with serving(limited(state)) as client:
        answer = await client.post(url("invoke"), json=body(), headers=AUTH)
        assert not [h for h in answer.headers if h.startswith("x-ratelimit")]  # none by default
        params = {"channel": "demo-channel"}
        put = await client.put(
            f"{C}/rate-limits", params=params, json={"requests_per_minute": 1, "requests_burst": 1}
        )
        assert put.json()["source"] == "run time"
        assert put.json()["description"] == "1 requests a minute (burst 1)"
        made = await client.post(f"{C}/channels", json={"id": "free", "key": "free-key"})
        assert made.status_code == 201
        assert (await client.post(url("invoke"), json=body(), headers=AUTH)).status_code == 200
        assert (await client.post(url("invoke"), json=body(), headers=AUTH)).status_code == 429
        free = await client.post(
            url("invoke", "free"), json=body(), headers={"vivi-api-key": "free-key"}
        )
        assert free.status_code == 200  # another channel: not limited
        cleared = await client.delete(f"{C}/rate-limits", params=params)
        assert (cleared.json()["rate_limits"], cleared.json()["source"]) == (None, "settings")
        assert (await client.post(url("invoke"), json=body(), headers=AUTH)).status_code == 200


@pytest.mark.parametrize("state", ["memory"])
async def test_a_burst_without_its_rate_is_refused(state: str) -> None:
    async with serving(limited(state)) as client:
        put = await client.put(f"{C}/rate-limits", json={"requests_burst": 3})
    assert put.status_code == 422
    assert "requests_burst needs requests_per_minute" in put.json()["detail"]


# --- two processes, one Redis -----------------------------------------------------------------

SLOW = """\
scenarios:
  - name: slow-stream
    match: {message: {equals: slow}}
    text: slow and steady
    timing: {first_chunk_ms: 2000}
"""


@pytest.fixture
def pair(redis_url: str, tmp_path: Path) -> Iterator[tuple[Running, Running]]:
    (tmp_path / "slow.yaml").write_text(SLOW)
    with two_servers(redis_url, tmp_path, "--no-access-log") as servers:
        yield servers


def _invoke(base: str) -> httpx.Response:
    return httpx.post(f"{base}/channelsApi/demo-channel/invoke", headers=AUTH, json=body())


def _burst(bases: list[str]) -> tuple[list[httpx.Response], float]:
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(bases)) as pool:
        answers = list(pool.map(_invoke, bases))
    return answers, time.monotonic() - started


def _check_burst(
    answers: list[httpx.Response], elapsed: float, burst: int, refill: float, kind: str
) -> None:
    """Exactly ``burst`` admitted (plus what refilled while the burst was sent, on a machine
    slow enough for that), each seeing its own remaining level, the rest refused."""
    admitted = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    refilled = int(elapsed / refill)
    assert burst <= len(admitted) <= burst + refilled
    assert {a.status_code for a in refused} == {429}
    assert all(kind in a.json()["detail"] for a in refused)
    if refilled == 0:
        step = COST if kind.startswith("tokens") else 1
        levels = sorted(remaining(a, kind.split()[0]) for a in admitted)
        assert levels == [(burst - i) * step - step for i in range(burst)][::-1]


def _retry_after_succeeds(
    answers: list[httpx.Response], retry: Callable[[], httpx.Response]
) -> None:
    wait = max(int(a.headers["retry-after"]) for a in answers if a.status_code == 429)
    time.sleep(wait)  # what Retry-After asks a client to do
    assert retry().status_code == 200


def test_a_request_limit_is_shared_exactly_by_two_processes(
    pair: tuple[Running, Running],
) -> None:
    a, b = pair
    # 5 at once, then one every 5 s.
    limits = {"requests_per_minute": 12, "requests_burst": 5}
    assert httpx.put(f"{a.base_url}{C}/rate-limits", json=limits).status_code == 200
    answers, elapsed = _burst([a.base_url, b.base_url] * 6)
    _check_burst(answers, elapsed, 5, 5.0, "requests per minute")
    _retry_after_succeeds(answers, lambda: _invoke(b.base_url))


def test_a_token_quota_is_shared_exactly_by_two_processes(pair: tuple[Running, Running]) -> None:
    a, b = pair
    # Three messages' tokens at once, then one message's worth every 5 s.
    limits = {"tokens_per_minute": 12 * COST, "tokens_burst": 3 * COST}
    assert httpx.put(f"{b.base_url}{C}/rate-limits", json=limits).status_code == 200
    answers, elapsed = _burst([a.base_url, b.base_url] * 4)
    _check_burst(answers, elapsed, 3, 5.0, "tokens per minute")
    _retry_after_succeeds(answers, lambda: _invoke(a.base_url))


def _stream_entries(base: str) -> list[dict[str, Any]]:
    params = {"channel": "demo-channel", "path": "stream"}
    entries: list[dict[str, Any]] = httpx.get(f"{base}{C}/journal", params=params).json()["entries"]
    return entries


def test_concurrent_streams_are_capped_across_two_processes(
    pair: tuple[Running, Running],
) -> None:
    a, b = pair
    assert httpx.put(f"{a.base_url}{C}/rate-limits", json={"concurrent_streams": 2}).is_success
    slow = {"message": "slow", "threadId": str(uuid.uuid4())}
    with httpx.Client(headers=AUTH, timeout=30) as http:
        with (
            http.stream("POST", f"{a.base_url}/channelsApi/demo-channel/stream", json=slow) as one,
            http.stream("POST", f"{b.base_url}/channelsApi/demo-channel/stream", json=slow) as two,
        ):
            # Both answered (their headers are here): both hold a slot.
            assert (one.status_code, two.status_code) == (200, 200)
            third = http.post(f"{a.base_url}/channelsApi/demo-channel/stream", json=body("hi"))
            assert third.status_code == 429
            assert "concurrent streams" in third.json()["detail"]
            # The earliest stream is scripted to end within its 2 s.
            assert 1 <= int(third.headers["retry-after"]) <= 2
            one.read()
            two.read()
        # A slot is freed when its stream's journal entry is written: wait for both.
        deadline = time.monotonic() + 30
        while len(_stream_entries(b.base_url)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(e["status"] for e in _stream_entries(b.base_url)) == [200, 200, 429]
        again = http.post(f"{b.base_url}/channelsApi/demo-channel/stream", json=body("hi"))
        assert again.status_code == 200


def test_limits_from_the_environment() -> None:
    loaded = load_settings(
        environ={
            "VIVI_EMULATOR_RATE_LIMITS": "{requests_per_minute: 5, concurrent_streams: 2}",
            "VIVI_EMULATOR_RATE_LIMIT_HEADERS": "false",
        }
    )
    assert loaded.rate_limits == RateLimits(requests_per_minute=5, concurrent_streams=2)
    assert loaded.rate_limit_headers is False


@pytest.mark.parametrize("state", ["memory"])
async def test_the_headers_are_those_of_the_contract(state: str) -> None:
    contract = yaml.safe_load(contract_path().read_text())
    schemas = {
        name: header["schema"]["pattern"]
        for name, header in contract["components"]["headers"].items()
    }
    limits = {"requests_per_minute": 7, "requests_burst": 1, "tokens_per_minute": 100_000}
    async with serving(limited(state, rate_limits=limits)) as client:
        answers = [await client.post(url("invoke"), json=body(), headers=AUTH) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 429]
    documented = contract["paths"]["/channelsApi/{channelId}/invoke"]["post"]["responses"]["200"]
    for answer in answers:
        sent = {n: v for n, v in answer.headers.items() if n.startswith("x-ratelimit-")}
        assert set(sent) == set(documented["headers"])
        for name, value in sent.items():
            ref = documented["headers"][name]["$ref"].rsplit("/", 1)[-1]
            assert re.fullmatch(schemas[ref], value), (name, value)


async def test_a_stream_carries_the_headers_and_a_reset_fills_the_buckets(
    client: httpx.AsyncClient,
) -> None:
    streamed = await client.post(url("stream"), json=body(), headers=AUTH)
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert remaining(streamed) == 2
    for _ in range(2):
        await client.post(url("invoke"), json=body(), headers=AUTH)
    assert (await client.post(url("invoke"), json=body(), headers=AUTH)).status_code == 429
    await client.post(f"{C}/reset", params={"channel": "demo-channel"})
    assert remaining(await client.post(url("invoke"), json=body(), headers=AUTH)) == 2


@pytest.mark.parametrize("state", ["memory"])
async def test_no_stream_allowed_is_said_and_invoke_still_passes(state: str) -> None:
    async with serving(limited(state, rate_limits={"concurrent_streams": 0})) as client:
        streamed = await client.post(url("stream"), json=body(), headers=AUTH)
        invoked = await client.post(url("invoke"), json=body(), headers=AUTH)
        too_big = await client.put(f"{C}/rate-limits", json={"requests_per_minute": 10**13})
    assert streamed.status_code == 429
    assert "retry-after" not in streamed.headers
    assert streamed.json()["detail"] == (
        "rate limit exceeded: concurrent streams (0 concurrent streams); "
        "the channel allows no stream: a stream can never pass"
    )
    assert invoked.status_code == 200
    assert too_big.status_code == 422


def test_limited_answers_conform_to_the_contract() -> None:
    # Limits on (high enough that nothing is refused): every answer carries the headers, and
    # a contract run finds nothing in them.
    limits = {"requests_per_minute": 10**9, "tokens_per_minute": 10**9}
    result = check_conformance(
        create_app(limited("memory", rate_limits=limits)),
        RunOptions(channel_id="demo-channel", api_key="demo-key", max_examples=10, seed=25),
    )
    assert result.findings == []
    assert result.errors == []
