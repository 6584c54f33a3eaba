"""The gate's run-time settings (gate.py): rate limits and structured output set for one channel
or for all, read back with where they are set, and a structured value checked against the
channel's schema before it is kept. Driven through a started service's gate, on the in-memory
store; the answering steps (``before``, ``after``) are covered through requests in
tests/test_ratelimits.py and tests/test_structured.py."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from vivi_emulator.errors import ValidationFailed
from vivi_emulator.gate import Gate
from vivi_emulator.ratelimit_rules import Bucket, RateLimits
from vivi_emulator.runtime import CONFIGURED, RUN_TIME
from vivi_emulator.scenarios.loader import FixtureError, ScenarioSet
from vivi_emulator.scenarios.model import Scenario
from vivi_emulator.scenarios.tokens import count_tokens
from vivi_emulator.service import Emulator
from vivi_emulator.settings import Settings
from vivi_emulator.store.buckets import Demand
from vivi_emulator.structured import StructuredOutput, conformance

from tests.support import AUTH, CHANNEL, serving, url

LIMITED = "limited"
PLAIN = "plain"
OFF = "off"
# Per channel: "limited" has its own configured limits, "plain" the global ones (none), "off"
# its own without any limit.
CHANNELS = [
    {"id": LIMITED, "key": "limited-key", "rate_limits": {"requests_per_minute": 7}},
    {"id": PLAIN, "key": "plain-key"},
    {"id": OFF, "key": "off-key", "rate_limits": {}},
]
# A strict schema (VIVI's rules) with five string fields: a value of five numbers breaks it
# five ways, more than the three reasons a refusal names per value.
FIVE = ("a", "b", "c", "d", "e")
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {name: {"type": "string"} for name in FIVE},
    "required": list(FIVE),
    "additionalProperties": False,
}
WRONG = dict.fromkeys(FIVE, 1)


@pytest.fixture
async def gate() -> AsyncIterator[Gate]:
    settings = Settings.model_validate(
        {"access_log": False, "reload_fixtures": False, "channels": CHANNELS}
    )
    emulator = Emulator(settings)
    await emulator.start()
    try:
        yield emulator.gate
    finally:
        await emulator.close()


def _scenario(name: str, structured: object) -> Scenario:
    return Scenario.model_validate({"name": name, "text": "x", "structured": structured})


async def test_each_channel_reads_its_own_configured_limits(gate: Gate) -> None:
    assert await gate.rate_limits(LIMITED) == (RateLimits(requests_per_minute=7), CONFIGURED)
    assert await gate.rate_limits(PLAIN) == (None, CONFIGURED)
    assert await gate.rate_limits(OFF) == (None, CONFIGURED)


async def test_limits_set_for_one_channel_apply_to_it_alone(gate: Gate) -> None:
    limits = RateLimits(requests_per_minute=5)
    await gate.set_rate_limits(limits, PLAIN)
    assert await gate.rate_limits(PLAIN) == (limits, RUN_TIME)
    assert await gate.rate_limits(LIMITED) == (RateLimits(requests_per_minute=7), CONFIGURED)


async def test_limits_set_without_any_limit_turn_them_off(gate: Gate) -> None:
    await gate.set_rate_limits(RateLimits(), LIMITED)
    assert await gate.rate_limits(LIMITED) == (None, RUN_TIME)


async def test_limits_set_for_every_channel_apply_to_each(gate: Gate) -> None:
    limits = RateLimits(concurrent_streams=2)
    await gate.set_rate_limits(limits, None)
    assert await gate.rate_limits(PLAIN) == (limits, RUN_TIME)
    assert await gate.rate_limits(LIMITED) == (limits, RUN_TIME)


async def test_a_reset_fills_the_one_channels_buckets(gate: Gate) -> None:
    once = Demand(requests=Bucket(1, 1))
    buckets = gate.limiter.buckets
    for channel in (LIMITED, PLAIN):
        assert (await buckets.decide(channel, once)).admitted
    await gate.reset(PLAIN)
    assert (await buckets.decide(PLAIN, once)).admitted
    assert not (await buckets.decide(LIMITED, once)).admitted


async def test_structured_output_set_for_one_channel_and_turned_off(gate: Gate) -> None:
    output = StructuredOutput.model_validate({"schema": SCHEMA})
    fine = ScenarioSet((_scenario("fine", dict.fromkeys(FIVE, "x")),))
    await gate.set_structured(output, PLAIN, fine)
    assert await gate.structured_now(PLAIN) == (output, RUN_TIME)
    assert (await gate.structured_now(LIMITED))[0] is None
    await gate.set_structured(None, PLAIN, fine)
    assert (await gate.structured_now(PLAIN))[0] is None


async def test_a_schema_refusing_a_loaded_scenario_is_refused_naming_three_reasons(
    gate: Gate,
) -> None:
    output = StructuredOutput.model_validate({"schema": SCHEMA})
    with pytest.raises(ValidationFailed) as refused:
        await gate.set_structured(output, PLAIN, ScenarioSet((_scenario("bad", WRONG),)))
    reasons = conformance(SCHEMA, WRONG)
    assert len(reasons) == 5
    assert [(e.field, e.reason) for e in refused.value.errors] == [
        ("scenario bad", why) for why in reasons[:3]
    ]
    assert refused.value.detail == (
        "scenarios' structured values do not conform to the schema: "
        + "; ".join(f"scenario bad: {why}" for why in reasons[:3])
    )
    assert (await gate.structured_now(PLAIN))[0] is None  # nothing was set


async def test_a_queued_value_the_channels_schema_refuses_is_a_422_naming_three_reasons(
    gate: Gate,
) -> None:
    output = StructuredOutput.model_validate({"schema": SCHEMA})
    await gate.set_structured(output, PLAIN, ScenarioSet(()))
    with pytest.raises(ValidationFailed) as refused:
        await gate.check_queued(_scenario("queued", WRONG), PLAIN)
    reasons = conformance(SCHEMA, WRONG)[:3]
    assert [(e.field, e.reason) for e in refused.value.errors] == [
        ("structured", f"queued: {why}") for why in reasons
    ]
    assert refused.value.detail == (
        "invalid queued answer: its structured value does not conform to the channel's "
        "schema: " + "; ".join(f"queued: {why}" for why in reasons)
    )
    # The other channel has no schema: the same value is queued there as it is.
    await gate.check_queued(_scenario("queued", WRONG), LIMITED)


async def test_a_queued_conversations_turns_are_checked_and_named_by_their_place(
    gate: Gate,
) -> None:
    output = StructuredOutput.model_validate({"schema": SCHEMA})
    await gate.set_structured(output, PLAIN, ScenarioSet(()))
    good = dict.fromkeys(FIVE, "x")
    talk = Scenario.model_validate(
        {
            "name": "talk",
            "turns": [
                {"text": "one", "structured": good},
                {"text": "two"},
                {"text": "three", "structured": WRONG},
            ],
        }
    )
    with pytest.raises(ValidationFailed) as refused:
        await gate.check_queued(talk, PLAIN)
    assert [e.reason for e in refused.value.errors] == [
        f"talk (turn 3): {why}" for why in conformance(SCHEMA, WRONG)[:3]
    ]


async def test_a_conversation_entered_late_answers_its_own_first_turn(tmp_path: Path) -> None:
    """The value answered is the conversation's step (the thread's n-th message since it
    entered it), not the thread's turn."""
    (tmp_path / "steps.yaml").write_text(
        "scenarios:\n"
        "  - name: small-talk\n"
        "    default: true\n"
        "    text: hello\n"
        "  - name: steps\n"
        "    match: {message: {equals: go}}\n"
        "    turns:\n"
        "      - structured: {a: one, b: x, c: x, d: x, e: x}\n"
        "      - structured: {a: two, b: x, c: x, d: x, e: x}\n"
    )
    settings = Settings.model_validate({"access_log": False, "fixtures": [tmp_path]})
    thread = str(uuid.uuid4())
    async with serving(settings) as client:
        schema = await client.put(
            "/_emulator/structured-output", params={"channel": CHANNEL}, json={"schema": SCHEMA}
        )
        assert schema.status_code == 200, schema.text
        answers = [
            await client.post(
                url("invoke"), json={"message": text, "threadId": thread}, headers=AUTH
            )
            for text in ("hi", "go", "go")
        ]
    assert [json.loads(a.json()["message"])["a"] for a in answers[1:]] == ["one", "two"]


async def test_a_channels_own_limits_apply_to_its_messages_and_a_refusal_names_its_scenario(
    gate: Gate,
) -> None:
    """The fixture's LIMITED channel allows 7 requests a minute (its own, not the global none);
    the eighth is refused, journaled with the scenario that would have answered."""
    settings = Settings.model_validate(
        {"access_log": False, "reload_fixtures": False, "channels": CHANNELS}
    )
    auth = {"vivi-api-key": "limited-key"}
    async with serving(settings) as client:
        answers = [
            await client.post(
                url("invoke", LIMITED),
                json={"message": "hello", "threadId": str(uuid.uuid4())},
                headers=auth,
            )
            for _ in range(8)
        ]
        entries = (await client.get("/_emulator/journal")).json()["entries"]
    assert answers[0].headers["x-ratelimit-limit-requests"] == "7"
    assert [a.status_code for a in answers] == [200] * 7 + [429]
    refused, answered = entries[-1], entries[0]
    assert refused["status"] == 429
    assert refused["scenario"] == answered["scenario"] is not None
    assert refused["chosen_by"] == answered["chosen_by"] is not None


def test_a_conversation_turn_refused_by_a_configured_schema_names_its_file(tmp_path: Path) -> None:
    (tmp_path / "talk.yaml").write_text(
        "scenarios:\n"
        "  - name: talk\n"
        "    match: {message: {equals: go}}\n"
        "    turns:\n"
        "      - structured: {a: 1, b: 1, c: 1, d: 1, e: 1}\n"
    )
    channel = {"id": PLAIN, "key": "plain-key", "structured_output": {"schema": SCHEMA}}
    settings = Settings.model_validate(
        {"access_log": False, "channels": [channel], "fixtures": [tmp_path]}
    )
    with pytest.raises(FixtureError) as failed:
        Emulator(settings)
    reasons = conformance(SCHEMA, WRONG)[:3]
    assert [(p.file, p.reason) for p in failed.value.problems] == [
        (
            tmp_path / "talk.yaml",
            "scenario 'talk (turn 1)': its structured value does not conform to the schema of "
            f"channel '{PLAIN}': {why}",
        )
        for why in reasons
    ]


async def test_a_message_is_charged_its_own_tokens_and_its_replys(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text("scenarios:\n  - name: ok\n    default: true\n    text: ok\n")
    message = "one two three four five six seven eight"
    settings = Settings.model_validate(
        {
            "access_log": False,
            "fixtures": [tmp_path],
            "rate_limits": {"tokens_per_minute": 1, "tokens_burst": 1000},
        }
    )
    async with serving(settings) as client:
        answer = await client.post(
            url("invoke"), json={"message": message, "threadId": str(uuid.uuid4())}, headers=AUTH
        )
    assert count_tokens(message) > 1
    cost = count_tokens(message) + count_tokens("ok")
    assert answer.headers["x-ratelimit-remaining-tokens"] == str(1000 - cost)


async def test_a_channel_configured_with_structured_output_off_streams() -> None:
    channel = {"id": CHANNEL, "key": "demo-key", "structured_output": {"schema": None}}
    settings = Settings.model_validate({"access_log": False, "channels": [channel]})
    async with serving(settings) as client:
        streamed = await client.post(
            url("stream"), json={"message": "hi", "threadId": str(uuid.uuid4())}, headers=AUTH
        )
    assert streamed.status_code == 200
