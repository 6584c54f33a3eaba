"""Structured-output mode: a channel answers with JSON that conforms to a schema of its own.

VIVI's structured-output page (docs.vivi.bot, core concepts, agents, structured output) says: a
per-agent toggle; while it is on, ``/stream`` is disabled; schemas are always strict (the root an
object, every property required, ``additionalProperties: false``, nesting depth at most 3, at
most 5 KB) and built from six field types (Text, Number, Integer, True/False, Group, List:
``string``, ``number``, ``integer``, ``boolean``, ``object``, ``array``). What it does not say,
and what we decided (docs/decisions.md, "Structured output"; each marked inferred in the
contract): the status of a refused ``/stream`` (409 by default, the ``structured_stream_status``
setting: the request is valid, the agent's state refuses it), and where the output goes
(``message`` holds the JSON text, ``json.dumps`` default separators, as every JSON of VIVI's).

The output is a reply's ``structured`` value when its scenario has one (checked against the
schema), else one generated from the schema, the same for the same seed, channel, thread and
turn.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vivi_emulator.errors import ApiError, FieldError, ValidationFailed
from vivi_emulator.script import CHUNK, END, START, Script, ScriptEvent

MAX_SCHEMA_BYTES = 5 * 1024  # "5 KB": read as 5 KiB (inferred)
MAX_DEPTH = 3
FIELD_TYPES = {
    "string": "Text",
    "number": "Number",
    "integer": "Integer",
    "boolean": "True/False",
    "object": "Group",
    "array": "List",
}
STREAM_STATUSES = (400, 403, 404, 405, 409, 422)


class StructuredOutput(BaseModel):
    """A channel's structured-output mode: its JSON Schema (``schema``), or ``null`` for off."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    json_schema: dict[str, Any] | None = Field(
        default=None,
        alias="schema",
        description="A strict JSON Schema (VIVI's rules); null turns structured output off.",
    )

    @property
    def active(self) -> bool:
        return self.json_schema is not None


class StreamDisabled(ApiError):
    """``/stream`` on a channel in structured-output mode (its status is a setting)."""

    def __init__(self, status: int) -> None:
        super().__init__(
            "streaming is disabled for this agent while structured output is on: "
            "use /invoke or /batch"
        )
        self.status_code = status


class StructuredMismatch(ApiError):
    """A scenario's ``structured`` value that the channel's schema refuses: the fixture
    author's mistake, answered as a 500 naming it (as ``ReplyTooLarge`` is)."""

    status_code = 500


# --- the strict rules ---------------------------------------------------------------------------


def _nodes(schema: Any, path: str, depth: int) -> Iterator[tuple[str, dict[str, Any], int]]:
    """Every field of the schema: its path, its schema and its nesting depth (the root: 1);
    never below one level past the bound, so a schema nested without end is walked in bounded
    time and stack."""
    if not isinstance(schema, dict):
        return
    yield path, schema, depth
    if depth > MAX_DEPTH:
        return
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, child in properties.items():
            yield from _nodes(child, f"{path}.properties.{name}", depth + 1)
    items = schema.get("items")
    if isinstance(items, dict):
        yield from _nodes(items, f"{path}.items", depth + 1)


def _object_problems(path: str, node: dict[str, Any]) -> Iterator[FieldError]:
    properties = node.get("properties")
    if not isinstance(properties, dict):
        yield FieldError(path, "[properties] a Group (object) must list its properties")
        return
    required = node.get("required")
    missing = [n for n in properties if not isinstance(required, list) or n not in required]
    if missing:
        yield FieldError(
            path,
            f"[required] every property must be required; not listed: {', '.join(missing)}",
        )
    if node.get("additionalProperties") is not False:
        yield FieldError(path, "[additionalProperties] must be false")


def _node_problems(path: str, node: dict[str, Any], depth: int) -> Iterator[FieldError]:
    kind = node.get("type")
    if kind not in FIELD_TYPES:
        allowed = ", ".join(FIELD_TYPES)
        yield FieldError(
            path, f"[type] must be one of {allowed} (VIVI's field types), not {kind!r}"
        )
    if kind in ("object", "array") and depth >= MAX_DEPTH + 1:
        yield FieldError(path, f"[depth] nesting deeper than {MAX_DEPTH} levels")
    if kind == "object":
        yield from _object_problems(path, node)
    if kind == "array" and not isinstance(node.get("items"), dict):
        yield FieldError(path, "[items] a List (array) must give the schema of its items")


def _size_problem(schema: dict[str, Any]) -> FieldError | None:
    try:
        size = len(json.dumps(schema, separators=(",", ":")).encode())
    except RecursionError:
        return FieldError("schema", f"[size] nested too deeply to measure: over {MAX_SCHEMA_BYTES}")
    if size > MAX_SCHEMA_BYTES:
        return FieldError("schema", f"[size] {size} bytes, over {MAX_SCHEMA_BYTES} (5 KB)")
    return None


def _meta_problem(schema: dict[str, Any]) -> FieldError | None:
    """Whether it is a JSON Schema at all (draft 2020-12)."""
    # Imported here, not at the top: jsonschema is a tenth of serve's start-up, and only a
    # channel given a schema needs it.
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = ".".join(str(p) for p in exc.path)
        return FieldError(f"schema.{where}" if where else "schema", f"[json-schema] {exc.message}")
    except RecursionError:
        return FieldError("schema", "[json-schema] nested too deeply to check")
    return None


def strict_problems(schema: Any) -> list[FieldError]:
    """Each of VIVI's strict rules the schema breaks, naming the rule in brackets."""
    if not isinstance(schema, dict):
        return [FieldError("schema", "[root] the schema must be a JSON object")]
    problems = [p for p in (_size_problem(schema),) if p is not None]
    if schema.get("type") != "object":
        problems.append(FieldError("schema", "[root] the root must be an object"))
    for path, node, depth in _nodes(schema, "schema", 1):
        problems.extend(_node_problems(path, node, depth))
    # The meta-schema check recurses as deep as the schema: only on one of a bounded size.
    if not problems and (meta := _meta_problem(schema)) is not None:
        problems.append(meta)
    return problems


def checked(output: StructuredOutput) -> StructuredOutput:
    """The setting, or ValidationFailed (422) naming every strict rule its schema breaks."""
    if output.json_schema is None:
        return output
    problems = strict_problems(output.json_schema)
    if problems:
        rules = sorted({p.reason[1 : p.reason.index("]")] for p in problems})
        raise ValidationFailed(
            f"the schema breaks VIVI's strict rules ({', '.join(rules)}): "
            + "; ".join(f"{p.field}: {p.reason}" for p in problems),
            problems,
        )
    return output


def conformance(schema: Mapping[str, Any], value: Any) -> list[str]:
    """Why ``value`` does not conform to ``schema`` (empty: it does)."""
    from jsonschema import Draft202012Validator  # as in _meta_problem: only when a schema is set

    validator = Draft202012Validator(dict(schema))
    try:
        return [
            f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in validator.iter_errors(value)
        ]
    except RecursionError:
        return ["(root): nested too deeply to check"]


# --- generating a conforming value --------------------------------------------------------------

_WORDS = (
    "alpha", "amber", "atlas", "birch", "cedar", "delta", "ember", "fjord", "gamma", "harbor",
    "indigo", "juniper", "kestrel", "lumen", "maple", "nova", "orbit", "pixel", "quartz", "raven",
)  # fmt: skip


def _string(node: Mapping[str, Any], rng: random.Random) -> str:
    low = int(node.get("minLength", 0))
    high = int(node.get("maxLength", max(low, 24)))
    text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 3)))
    while len(text) < low:
        text += " " + rng.choice(_WORDS)
    return text[:high]


def _number(node: Mapping[str, Any], rng: random.Random, integer: bool) -> int | float:
    low = node.get("minimum", node.get("exclusiveMinimum", 0))
    high = node.get("maximum", node.get("exclusiveMaximum", low + 100))
    if integer:
        low_i = int(low) + (1 if "exclusiveMinimum" in node and "minimum" not in node else 0)
        high_i = int(high) - (1 if "exclusiveMaximum" in node and "maximum" not in node else 0)
        return rng.randint(low_i, max(low_i, high_i))
    value = round(rng.uniform(float(low), float(high)), 2)
    return min(max(value, float(low)), float(high))


def _object(node: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
    properties = node.get("properties") or {}
    return {name: generate(child, rng) for name, child in properties.items()}


def _array(node: Mapping[str, Any], rng: random.Random) -> list[Any]:
    low = int(node.get("minItems", 1))
    high = int(node.get("maxItems", max(low, 3)))
    count = rng.randint(low, max(low, high))
    return [generate(node.get("items") or {}, rng) for _ in range(count)]


def _integer(node: Mapping[str, Any], rng: random.Random) -> int | float:
    return _number(node, rng, integer=True)


def _float(node: Mapping[str, Any], rng: random.Random) -> int | float:
    return _number(node, rng, integer=False)


def _boolean(_: Mapping[str, Any], rng: random.Random) -> bool:
    return rng.random() < 0.5


_BY_TYPE: dict[str, Callable[[Mapping[str, Any], random.Random], Any]] = {
    "object": _object,
    "array": _array,
    "integer": _integer,
    "number": _float,
    "boolean": _boolean,
    "string": _string,
}


def generate(node: Mapping[str, Any], rng: random.Random) -> Any:
    """A value of the schema ``node``: its ``const`` or one of its ``enum``, else by its type."""
    if "const" in node:
        return node["const"]
    if isinstance(node.get("enum"), list) and node["enum"]:
        return rng.choice(node["enum"])
    maker = _BY_TYPE.get(str(node.get("type")))
    return maker(node, rng) if maker is not None else _string(node, rng)


def output_of(
    schema: Mapping[str, Any],
    scripted: Mapping[str, Any] | None,
    scenario: str,
    draw: str,
) -> str:
    """The JSON text a structured channel answers: the scripted value (checked), or one
    generated from the schema, seeded by ``draw`` (the run's seed, channel, thread, turn)."""
    if scripted is not None:
        problems = conformance(schema, scripted)
        if problems:
            raise StructuredMismatch(
                f"scenario '{scenario}': its structured value does not conform to the channel's "
                f"schema: {'; '.join(problems[:5])}"
            )
        value: Any = scripted
    else:
        value = generate(schema, random.Random(draw))  # noqa: S311 - sample data, not secrets
        # What the generator cannot honour (a pattern, a format) is said, never answered.
        problems = conformance(schema, value)
        if problems:
            raise StructuredMismatch(
                f"scenario '{scenario}': no value could be generated from the channel's schema "
                f"({'; '.join(problems[:3])}): give the reply a structured value"
            )
    return json.dumps(value)


def structured_script(script: Script, text: str) -> Script:
    """The script answering ``text`` as its whole reply, in the time the original takes."""
    events = (
        ScriptEvent(START),
        ScriptEvent(CHUNK, text, delay=script.duration),
        ScriptEvent(END),
    )
    return replace(script, events=events)
