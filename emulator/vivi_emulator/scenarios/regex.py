"""Scenario regexes (``{regex: ...}`` matchers), on RE2: matching takes time linear in the text.

A user's regex runs on the event loop for every request it is tried against. Python's ``re``
backtracks: ``(a+)+$`` against 40 characters takes a day and freezes every other request. RE2
(Google's engine, the ``google-re2`` package) never backtracks, so no pattern and no text can
stall the server; the price is RE2's syntax, without backreferences or lookarounds. A pattern
RE2 cannot take is refused when its scenario is loaded or queued, with the reason.
"""

from __future__ import annotations

import re2
from re2 import _re2

# RE2's own matcher, under the ``re2`` module's Python wrapper: the wrapper's ``search`` builds a
# match object and maps offsets back to characters on every call, which a yes-or-no never reads
# (measured: most of the time of a match, on every request a regex scenario is tried for).
_UNANCHORED = _re2.RE2.Anchor.UNANCHORED
_NO_MATCH = (-1, -1)


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


class Pattern:
    """A compiled pattern: made once, when its scenario is loaded (``model.TextMatch`` holds
    it), and matched on every request it is tried for."""

    __slots__ = ("_regexp", "source")

    def __init__(self, regexp: _re2.RE2, source: tuple[str, bool]) -> None:
        self._regexp = regexp
        self.source = source  # (pattern, ignore_case): what makes two patterns the same

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pattern) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)

    def search(self, text: str) -> bool:
        """Whether the pattern matches anywhere in ``text`` (like ``re.search``), on the text's
        UTF-8 bytes, which RE2 works on anyway."""
        data = text.encode("utf-8", "surrogatepass")
        return bool(self._regexp.Match(_UNANCHORED, data, 0, len(data))[0] != _NO_MATCH)


def compiled(pattern: str, ignore_case: bool = False) -> Pattern:
    """The pattern compiled by RE2, or RegexError saying why it cannot be."""
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern to stderr
    options.case_sensitive = not ignore_case
    regexp = _re2.RE2(pattern.encode("utf-8"), options)
    if not regexp.ok():
        said = regexp.error()
        text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
        raise RegexError(
            f"regex {_why(pattern, text)} (scenario regexes use RE2 syntax, which always "
            "matches in linear time)"
        )
    return Pattern(regexp, (pattern, ignore_case))


def search(pattern: str, text: str, ignore_case: bool = False) -> bool:
    """Whether ``pattern`` matches anywhere in ``text`` (compiled for this one call)."""
    return compiled(pattern, ignore_case).search(text)
