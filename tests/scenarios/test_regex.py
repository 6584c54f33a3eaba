"""scenarios.regex: RE2 matching in linear time; patterns it cannot take refused with a reason."""

from __future__ import annotations

import pytest

from vivi_emulator.scenarios.model import TextMatch
from vivi_emulator.scenarios.regex import RegexError, compiled, search


@pytest.mark.parametrize(
    ("pattern", "text", "ignore_case", "found"),
    [
        (r"^(start|begin)\b", "Start here", True, True),
        (r"^(start|begin)\b", "Start here", False, False),
        (r"order #\d+", "my order #42 is late", False, True),
        (r"ÉTÉ", "un été chaud", True, True),
        (r"\p{Greek}+", "alpha \u03b1", False, True),
        ("(a+)+$", "a" * 100_000 + "!", False, False),  # a backtracking engine never returns
    ],
)
def test_search(pattern: str, text: str, ignore_case: bool, found: bool) -> None:
    assert search(pattern, text, ignore_case) is found


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(\w)\1", "uses a backreference, which RE2 does not support"),
        (r"(?P<x>a)(?P=x)", "uses a backreference, which RE2 does not support"),
        (r"a(?=b)", "uses a lookaround"),
        (r"a(?!b)", "uses a lookaround"),
        (r"(?<=a)b", "uses a lookaround"),
        (r"(?<!a)b", "uses a lookaround"),
        (r"(", "is not valid RE2 syntax: missing ): ("),
        (r"a{2000}", "is not valid RE2 syntax: invalid repetition size: {2000}"),
    ],
)
def test_what_re2_cannot_take_is_refused_with_why(pattern: str, reason: str) -> None:
    with pytest.raises(RegexError) as caught:
        compiled(pattern)
    assert str(caught.value).startswith(f"regex {reason}")
    assert "RE2 syntax" in str(caught.value)


def test_a_matcher_holds_its_pattern_compiled_once() -> None:
    matcher = TextMatch(regex="^abc", ignore_case=True)
    assert matcher.pattern is matcher.pattern  # compiled when the matcher was made
    assert matcher.pattern.search("ABCd")
    assert not matcher.pattern.search("xabc")
