"""pydantic's validation errors as the author of a scenario reads them: the field as written
(``match.message``, not pydantic's union tags), and one useful reason per place. For fixture
files and queued replies alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from difflib import get_close_matches
from functools import cache
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from vivi_emulator.resources import default_fixtures_dir

_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none"})


def _is_tag(part: int | str) -> bool:
    """pydantic's union member tags in an error location ("str", "TextMatch", "function-...")."""
    if isinstance(part, int):
        return False
    return part in _TYPE_TAGS or part[:1].isupper() or "[" in part or "-" in part


def plain_loc(loc: Sequence[int | str]) -> tuple[int | str, ...]:
    """An error's location as its author wrote it: without pydantic's union tags."""
    return tuple(p for p in loc if not _is_tag(p))


def _loc_text(loc: Sequence[int | str]) -> str:
    return ".".join(str(p) for p in plain_loc(loc))


# A union member of another type than the one given ("must be a number" where a mapping was
# written): beside the given form's own errors, it only says what the author did not mean.
_WRONG_TYPE = frozenset(
    {
        "string_type",
        "int_type",
        "float_type",
        "bool_type",
        "list_type",
        "dict_type",
        "model_type",
        "model_attributes_type",
    }
)


def _useful(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Of a union's errors at one place, drop the other members' "must be a <type>" when the
    given form has errors of its own."""
    places: dict[str, list[ErrorDetails]] = {}
    for error in errors:
        places.setdefault(_loc_text(error["loc"]), []).append(error)
    kept = []
    for place, group in places.items():
        # Errors inside this place (first_token.ms) say the author wrote the nested form.
        nested = any(other.startswith(place + ".") for other in places) if place else False
        specific = [e for e in group if e["type"] not in _WRONG_TYPE]
        kept += specific if specific or nested else group
    return kept


def deepest_errors(
    errors: Iterable[Mapping[str, Any]],
) -> list[tuple[tuple[int | str, ...], str]]:
    """(location, reason) of each error at the deepest place a value went wrong: a union's
    members are tried in turn, and "should be 'none' or 'realistic'" at ``profile`` says nothing
    when ``profile.first_event`` is the number out of range. One reason per place."""
    found: dict[tuple[int | str, ...], str] = {}
    for error in errors:
        found.setdefault(plain_loc(error["loc"]), str(error["msg"]).removeprefix("Value error, "))
    return [
        (loc, reason)
        for loc, reason in found.items()
        if not any(len(other) > len(loc) and other[: len(loc)] == loc for other in found)
    ]


def deepest(errors: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """``deepest_errors`` with each location written as a dotted field name."""
    return [(".".join(map(str, loc)), reason) for loc, reason in deepest_errors(errors)]


def model_errors(exc: ValidationError) -> list[tuple[tuple[int | str, ...], str, str]]:
    """Each useful error of a scenario's validation: its location, the field as its author
    wrote it (``match.message``), and the reason in plain words (for fixture files and queued
    replies alike)."""
    return [
        (error["loc"], _loc_text(error["loc"]), plain_reason(error))
        for error in _useful(exc.errors(include_url=False, include_input=False))
    ]


# pydantic's reasons ("Input should be a valid integer, unable to parse string as an
# integer") in the words of a file's author, saying what is allowed.
_BY_TYPE: dict[str, str] = {
    "missing": "is required",
    "string_type": "must be a text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list (items starting with '- ')",
    "dict_type": "must be a mapping (key: value lines)",
    "model_type": "must be a mapping (key: value lines)",
    "model_attributes_type": "must be a mapping (key: value lines)",
}
_BOUNDS: dict[str, tuple[str, str]] = {
    "greater_than_equal": ("ge", "must be at least {}"),
    "greater_than": ("gt", "must be more than {}"),
    "less_than_equal": ("le", "must be at most {}"),
    "less_than": ("lt", "must be less than {}"),
    "too_short": ("min_length", "must have at least {} item(s)"),
    "too_long": ("max_length", "must have at most {} item(s)"),
    "string_too_short": ("min_length", "must be at least {} character(s) long"),
    "string_too_long": ("max_length", "must be at most {} character(s) long"),
    "literal_error": ("expected", "must be {}"),
    "enum": ("expected", "must be {}"),
}


def plain_reason(error: ErrorDetails) -> str:
    """One pydantic error's reason, in plain words."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown_field(error["loc"])
    if kind in _BY_TYPE:
        return _BY_TYPE[kind]
    if kind in _BOUNDS and _BOUNDS[kind][0] in ctx:
        key, text = _BOUNDS[kind]
        return text.format(_number(ctx[key]))
    # Our own validators' messages (value_error, assertion_error) are already plain.
    return error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _number(value: object) -> str:
    """2.0 as 2: a bound reads as its author wrote it."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _unknown_field(loc: Sequence[int | str]) -> str:
    near = get_close_matches(str(loc[-1]), _known_fields(), n=1, cutoff=0.7) if loc else []
    hint = f"; did you mean '{near[0]}'?" if near else ""
    return f"unknown field{hint} (every field: vivi-emulator fixtures schema)"


# A constant, not state: the field names of the fixture model shipped with the package, the same
# for the whole process (allowed by name in tests/test_layers.py's constant loaders).
@cache
def _known_fields() -> tuple[str, ...]:
    """Every field name of a fixture file, at any depth (for "did you mean").

    Read from the JSON Schema shipped beside the fixtures, which is generated from the fixture
    model (``scenario_schema_json``; a test keeps the two equal): the model reports its errors
    through this module, so this module does not import the model (no circle)."""
    path = default_fixtures_dir() / "scenarios.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    names: set[str] = set()

    def walk(schema: object) -> None:
        if isinstance(schema, dict):
            names.update(str(k) for k in (schema.get("properties") or {}))
            for value in schema.values():
                walk(value)
        elif isinstance(schema, list):
            for value in schema:
                walk(value)

    walk(schema)
    return tuple(sorted(names))
