"""pydantic's validation errors as the author of a scenario reads them: the field as written
(``match.message``, not pydantic's union tags), and one useful reason per place. For fixture
files and queued replies alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

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


def _useful(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Of a union's errors at one place, drop "should be a string" when an object was given."""
    places: dict[str, list[ErrorDetails]] = {}
    for error in errors:
        places.setdefault(_loc_text(error["loc"]), []).append(error)
    kept = []
    for group in places.values():
        specific = [e for e in group if "str" not in e["loc"]]
        kept += specific or group
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
    wrote it (``match.message``), and the reason (for fixture files and queued replies alike)."""
    return [
        (error["loc"], _loc_text(error["loc"]), error["msg"].removeprefix("Value error, "))
        for error in _useful(exc.errors(include_url=False, include_input=False))
    ]
