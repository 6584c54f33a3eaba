"""Structured-output mode per channel (structured.py, gate.py): VIVI's strict rules, /stream
refused, /invoke and /batch answering JSON that conforms, scripted or generated."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from hypothesis import given
from hypothesis import settings as settings_of
from hypothesis import strategies as st
from pydantic import ValidationError

from vivi_emulator.app import create_app
from vivi_emulator.contract.options import RunOptions
from vivi_emulator.contract.run import check_conformance
from vivi_emulator.scenarios.loader import FixtureError
from vivi_emulator.service import Emulator
from vivi_emulator.settings import RESOLVED_ENV, Settings, dump_resolved, load_resolved
from vivi_emulator.structured import output_of, strict_problems

from tests.support import AUTH, serving, url

C = "/_emulator"
CHANNEL = {"channel": "demo-channel"}

ORDER: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["shipped", "pending"]},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer"}},
                "required": ["sku", "quantity"],
                "additionalProperties": False,
            },
        },
        "total": {"type": "number", "minimum": 0},
        "gift": {"type": "boolean"},
    },
    "required": ["status", "items", "total", "gift"],
    "additionalProperties": False,
}

SCRIPTED = """\
scenarios:
  - name: order-status
    match: {message: {contains: order}}
    text: Your order has shipped.
    structured: {status: shipped, items: [{sku: A-1, quantity: 2}], total: 19.5, gift: false}
"""


def body(message: str = "hello", thread: str | None = None) -> dict[str, str]:
    return {"message": message, "threadId": thread or str(uuid.uuid4())}


def settings(**values: Any) -> Settings:
    return Settings.model_validate({"access_log": False, **values})


async def structured(client: httpx.AsyncClient, schema: Any) -> httpx.Response:
    return await client.put(f"{C}/structured-output", params=CHANNEL, json={"schema": schema})


def broken(**change: Any) -> dict[str, Any]:
    schema = copy.deepcopy(ORDER)
    schema.update(change)
    return schema


def nested(levels: int) -> dict[str, Any]:
    """An object schema nested ``levels`` deep (the root is level 1)."""
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {
            "type": "object",
            "properties": {"inner": schema},
            "required": ["inner"],
            "additionalProperties": False,
        }
    return schema


def _not_required() -> dict[str, Any]:
    return broken(required=["status", "items", "total"])


def _additional() -> dict[str, Any]:
    schema = copy.deepcopy(ORDER)
    del schema["properties"]["items"]["items"]["additionalProperties"]
    return schema


def _too_big() -> dict[str, Any]:
    names = [f"field_{i:03}_with_a_long_name" for i in range(160)]
    return {
        "type": "object",
        "properties": {n: {"type": "string"} for n in names},
        "required": names,
        "additionalProperties": False,
    }


BROKEN_RULES: dict[str, Callable[[], Any]] = {
    "root": lambda: {"type": "array", "items": {"type": "string"}},
    "required": _not_required,
    "additionalProperties": _additional,
    "depth": lambda: nested(4),
    "size": _too_big,
    "type": lambda: broken(properties={**ORDER["properties"], "when": {"type": "null"}}),
    "items": lambda: broken(properties={**ORDER["properties"], "tags": {"type": "array"}}),
    "json-schema": lambda: broken(
        properties={**ORDER["properties"], "status": {"type": "string", "minLength": -1}}
    ),
}


@pytest.mark.parametrize("rule", BROKEN_RULES)
async def test_each_strict_rule_broken_is_a_422_naming_it(rule: str) -> None:
    async with serving(settings()) as client:
        refused = await structured(client, BROKEN_RULES[rule]())
        state = await client.get(f"{C}/structured-output", params=CHANNEL)
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail.startswith("the schema breaks VIVI's strict rules (")
    assert f"[{rule}]" in detail
    assert any(f"[{rule}]" in e["reason"] for e in refused.json()["errors"])
    assert state.json()["structured_output"] is None  # nothing was set


def test_three_levels_pass_and_the_example_is_strict() -> None:
    assert strict_problems(nested(3)) == []
    assert strict_problems(ORDER) == []
    assert [p.reason[:7] for p in strict_problems(nested(4))] == ["[depth]"]


async def test_stream_is_refused_and_invoke_answers_json_that_conforms() -> None:
    async with serving(settings(seed=7)) as client:
        assert (await structured(client, ORDER)).status_code == 200
        stream = await client.post(url("stream"), json=body(), headers=AUTH)
        invoke = await client.post(url("invoke"), json=body(), headers=AUTH)
        journal = (await client.get(f"{C}/journal")).json()["entries"]
    assert stream.status_code == 409
    assert stream.json() == {
        "detail": "streaming is disabled for this agent while structured output is on: "
        "use /invoke or /batch"
    }
    assert invoke.status_code == 200
    output = json.loads(invoke.json()["message"])
    jsonschema.validate(output, ORDER)
    assert [e["status"] for e in journal] == [409, 200]


async def test_the_output_is_the_same_for_the_same_seed_thread_and_turn() -> None:
    thread = str(uuid.uuid4())
    outputs = []
    for _ in range(2):
        async with serving(settings(seed=11)) as client:
            await structured(client, ORDER)
            answers = [
                await client.post(url("invoke"), json=body(thread=thread), headers=AUTH)
                for _ in range(3)
            ]
            outputs.append([a.json()["message"] for a in answers])
    assert outputs[0] == outputs[1]
    assert len(set(outputs[0])) > 1  # each turn draws anew


async def test_a_scripted_value_is_answered_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "orders.yaml").write_text(SCRIPTED)
    async with serving(settings(fixtures=[tmp_path])) as client:
        plain = await client.post(url("invoke"), json=body("my order?"), headers=AUTH)
        await structured(client, ORDER)
        answer = await client.post(url("invoke"), json=body("my order?"), headers=AUTH)
        batch = await client.post(
            url("batch"),
            json={"messages": [body("my order?"), body("hello")]},
            headers=AUTH,
        )
    assert plain.json()["message"] == "Your order has shipped."  # structured output is off
    expected = {"status": "shipped", "items": [{"sku": "A-1", "quantity": 2}], "total": 19.5}
    assert json.loads(answer.json()["message"]) == {**expected, "gift": False}
    first, second = (json.loads(r["message"]) for r in batch.json()["responses"])
    assert first == {**expected, "gift": False}
    jsonschema.validate(second, ORDER)  # generated: the greeting has no structured value


async def test_a_scripted_value_that_does_not_conform_is_refused_when_set(tmp_path: Path) -> None:
    (tmp_path / "orders.yaml").write_text(SCRIPTED)
    schema = broken(properties={**ORDER["properties"], "total": {"type": "integer"}})
    async with serving(settings(fixtures=[tmp_path])) as client:
        refused = await structured(client, schema)
        await structured(client, ORDER)
        queued = await client.post(
            f"{C}/queue", params=CHANNEL, json={"structured": {"status": "lost"}}
        )
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"field": "scenario order-status", "reason": "total: 19.5 is not of type 'integer'"}
    ]
    assert queued.status_code == 422
    assert "'lost' is not one of ['shipped', 'pending']" in queued.json()["detail"]


async def test_a_queued_structured_value_answers_once() -> None:
    value = {"status": "pending", "items": [], "total": 0, "gift": True}
    async with serving(settings()) as client:
        await structured(client, ORDER)
        queued = await client.post(f"{C}/queue", params=CHANNEL, json={"structured": value})
        answer = await client.post(url("invoke"), json=body(), headers=AUTH)
    assert queued.status_code == 201
    assert json.loads(answer.json()["message"]) == value


async def test_configured_per_channel_with_its_stream_status() -> None:
    channel = {"id": "demo-channel", "key": "demo-key", "structured_output": {"schema": ORDER}}
    async with serving(settings(channels=[channel], structured_stream_status=400)) as client:
        stream = await client.post(url("stream"), json=body(), headers=AUTH)
        invoke = await client.post(url("invoke"), json=body(), headers=AUTH)
        state = (await client.get(f"{C}/structured-output", params=CHANNEL)).json()
        off = await structured(client, None)
        streamed = await client.post(url("stream"), json=body(), headers=AUTH)
    assert stream.status_code == 400
    jsonschema.validate(json.loads(invoke.json()["message"]), ORDER)
    assert (state["structured_output"]["schema"], state["source"]) == (ORDER, "settings")
    assert (off.json()["structured_output"], off.json()["source"]) == (None, "run time")
    assert streamed.status_code == 200


def test_a_configured_schema_breaking_a_rule_stops_the_settings() -> None:
    channel = {"id": "c", "key": "k", "structured_output": {"schema": nested(4)}}
    with pytest.raises(ValidationError, match=r"\[depth\] nesting deeper than 3 levels"):
        settings(channels=[channel])
    with pytest.raises(ValidationError, match="must be one of 400, 403, 404, 405, 409, 422"):
        settings(structured_stream_status=200)


def test_fixtures_are_checked_against_a_configured_schema_when_they_load(tmp_path: Path) -> None:
    (tmp_path / "orders.yaml").write_text(SCRIPTED)
    schema = broken(properties={**ORDER["properties"], "total": {"type": "integer"}})
    channel = {"id": "demo-channel", "key": "demo-key", "structured_output": {"schema": schema}}
    with pytest.raises(FixtureError) as failed:
        Emulator(settings(channels=[channel], fixtures=[tmp_path]))
    (problem,) = failed.value.problems
    assert problem.file == tmp_path / "orders.yaml"
    assert problem.reason == (
        "scenario 'order-status': its structured value does not conform to the schema of "
        "channel 'demo-channel': total: 19.5 is not of type 'integer'"
    )


async def test_a_fixture_changed_after_a_run_time_schema_is_a_500_naming_it(
    tmp_path: Path,
) -> None:
    async with serving(settings(fixtures=[tmp_path])) as client:
        await structured(client, ORDER)
        (tmp_path / "orders.yaml").write_text(SCRIPTED.replace("total: 19.5", "total: -1"))
        assert (await client.post(f"{C}/scenarios/reload")).status_code == 200
        answer = await client.post(url("invoke"), json=body("order?"), headers=AUTH)
    assert answer.status_code == 500
    assert answer.json()["detail"] == (
        "scenario 'order-status': its structured value does not conform to the channel's "
        "schema: total: -1 is less than the minimum of 0"
    )


def test_per_channel_settings_reach_worker_processes() -> None:
    channel = {
        "id": "c",
        "key": "k",
        "structured_output": {"schema": ORDER},
        "rate_limits": {"requests_per_minute": 5},
    }
    resolved = load_resolved({RESOLVED_ENV: dump_resolved(settings(channels=[channel]))})
    (again,) = resolved.channels
    assert again.structured_output is not None
    assert again.structured_output.json_schema == ORDER
    assert again.rate_limits is not None
    assert again.rate_limits.requests_per_minute == 5
    assert again.key.get_secret_value() == "k"


async def test_a_schema_the_generator_cannot_honour_is_a_500_saying_so() -> None:
    schema = broken(
        properties={**ORDER["properties"], "status": {"type": "string", "pattern": "^Z{9}$"}}
    )
    async with serving(settings()) as client:
        assert (await structured(client, schema)).status_code == 200
        answer = await client.post(url("invoke"), json=body(), headers=AUTH)
    assert answer.status_code == 500
    assert "no value could be generated from the channel's schema" in answer.json()["detail"]
    assert "give the reply a structured value" in answer.json()["detail"]


def _field_schema() -> st.SearchStrategy[dict[str, Any]]:
    leaves: list[dict[str, Any]] = [
        {"type": "string"},
        {"type": "string", "minLength": 30, "maxLength": 40},
        {"type": "string", "enum": ["a", "b"]},
        {"type": "integer", "minimum": -5, "maximum": 5},
        {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 2},
        {"type": "number", "minimum": 0.5, "maximum": 0.75},
        {"type": "boolean"},
    ]
    leaf = st.sampled_from(leaves)

    def objects(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        return st.dictionaries(
            st.from_regex(r"[a-z]{1,8}", fullmatch=True), children, max_size=4
        ).map(
            lambda properties: {
                "type": "object",
                "properties": properties,
                "required": list(properties),
                "additionalProperties": False,
            }
        )

    def arrays(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        return st.tuples(children, st.integers(0, 3)).map(
            lambda pair: {"type": "array", "items": pair[0], "minItems": pair[1]}
        )

    level2: st.SearchStrategy[dict[str, Any]] = st.one_of(leaf, objects(leaf), arrays(leaf))
    return objects(st.one_of(leaf, objects(level2), arrays(level2)))


@given(schema=_field_schema(), seed=st.text(max_size=8))
@settings_of(max_examples=150, deadline=None)
def test_every_strict_schema_generates_a_value_that_conforms(
    schema: dict[str, Any], seed: str
) -> None:
    assert strict_problems(schema) == []
    value = json.loads(output_of(schema, None, "generated", seed))
    jsonschema.validate(value, schema)


def _deep_objects(depth: int) -> str:
    return '{"type":"object","properties":{"a":' * depth + '{"type":"string"}' + "}}" * depth


def _deep_not(depth: int) -> str:
    chain = '{"type":"string","not":' + '{"not":' * (depth - 1) + '{"type":"string"}' + "}" * depth
    return (
        '{"type":"object","properties":{"a":' + chain + '},"required":["a"],'
        '"additionalProperties":false}'
    )


@pytest.mark.parametrize(
    ("schema", "rule"),
    [
        # Objects 400 deep: refused for its size and depth, walked only to the bound.
        (_deep_objects(400), "size"),
        # A chain of `not` within 5 KB: the meta-schema check recurses; refused, never a 500.
        (_deep_not(500), "json-schema"),
    ],
)
async def test_a_schema_nested_without_end_is_a_422_not_a_crash(schema: str, rule: str) -> None:
    async with serving(settings()) as client:
        refused = await client.put(
            f"{C}/structured-output",
            content='{"schema": ' + schema + "}",
            headers={"content-type": "application/json"},
        )
    assert refused.status_code == 422
    assert f"[{rule}]" in refused.json()["detail"]


@pytest.mark.parametrize("sticky", ["true", "false"])
async def test_each_turn_of_a_conversation_answers_its_own_value(
    tmp_path: Path, sticky: str
) -> None:
    (tmp_path / "steps.yaml").write_text(
        "scenarios:\n"
        "  - name: steps\n"
        "    match: {message: {equals: go}}\n"
        f"    sticky: {sticky}\n"
        "    turns:\n"
        "      - structured: {status: pending, items: [], total: 0, gift: false}\n"
        "      - structured: {status: shipped, items: [], total: 0, gift: false}\n"
    )
    thread = str(uuid.uuid4())
    async with serving(settings(fixtures=[tmp_path])) as client:
        await structured(client, ORDER)
        answers = [
            await client.post(url("invoke"), json=body("go", thread), headers=AUTH)
            for _ in range(2)
        ]
    assert [json.loads(a.json()["message"])["status"] for a in answers] == ["pending", "shipped"]


@pytest.mark.parametrize("status", [409, 400])
def test_a_contract_run_tells_whether_a_channel_agrees(status: int) -> None:
    # The emulator's own guess (409) passes; a channel answering another status (as a real
    # one might: 400 here) is reported on /stream with the status it answered.
    channel = {"id": "demo-channel", "key": "demo-key", "structured_output": {"schema": ORDER}}
    app = create_app(settings(channels=[channel], structured_stream_status=status))
    result = check_conformance(
        app, RunOptions(channel_id="demo-channel", api_key="demo-key", max_examples=5, seed=25)
    )
    assert result.errors == []
    found = {(f.operation, f.status_code, f.check) for f in result.findings}
    if status == 409:
        assert found == set()
    else:
        # An undocumented status, and a valid request refused: both name /stream and its 400.
        stream = "POST /channelsApi/{channelId}/stream"
        assert found == {
            (stream, 400, "status_code_conformance"),
            (stream, 400, "positive_data_acceptance"),
        }
