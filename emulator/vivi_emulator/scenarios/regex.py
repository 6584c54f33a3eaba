"""Scenario regexes (``{regex: ...}`` matchers), on RE2: matching takes time linear in the text.

A user's regex runs on the event loop for every request it is tried against. Python's ``re``
backtracks: ``(a+)+$`` against 40 characters takes a day and freezes every other request. RE2
(Google's engine, the ``google-re2`` package) never backtracks, so no pattern and no text can
stall the server; the price is RE2's syntax, without backreferences or lookarounds. A pattern
RE2 cannot take is refused when its scenario is loaded or queued, with the reason.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

import re2


class _Pattern(Protocol):
    def search(self, text: bytes) -> object | None: ...


class RegexError(ValueError):
    """A pattern RE2 cannot compile; the message says why, in a fixture author's words."""


_LOOKAROUNDS = ("(?=", "(?!", "(?<=", "(?<!")


def _why(pattern: str, said: str) -> str:
    if (said.startswith("invalid escape sequence: \\") and said[-1:].isdigit()) or (
        "(?P=" in pattern
    ):
        return "uses a backreference, which RE2 does not support"
    if any(said.endswith(f"invalid perl operator: {op}") for op in _LOOKAROUNDS):
        return "uses a lookaround ((?=, (?!, (?<=, (?<!), which RE2 does not support"
    return f"is not valid RE2 syntax: {said}"


@lru_cache(maxsize=1024)
def compiled(pattern: str, ignore_case: bool = False) -> _Pattern:
    """The pattern compiled by RE2 (cached), or RegexError saying why it cannot be."""
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern to stderr
    options.case_sensitive = not ignore_case
    try:
        result: _Pattern = re2.compile(pattern, options)
    except re2.error as exc:
        said = exc.args[0] if exc.args else "cannot compile"
        text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
        raise RegexError(
            f"regex {_why(pattern, text)} (scenario regexes use RE2 syntax, which always "
            "matches in linear time)"
        ) from None
    return result


def search(pattern: str, text: str, ignore_case: bool = False) -> bool:
    """Whether the pattern matches anywhere in ``text`` (like ``re.search``).

    The text goes to RE2 as UTF-8 bytes, which RE2 works on anyway: the binding's ``str`` path
    also maps every match offset back to characters, which a yes-or-no never reads (measured:
    half the time of a match, on every request a regex scenario is tried for).
    """
    return compiled(pattern, ignore_case).search(text.encode("utf-8", "surrogatepass")) is not None
