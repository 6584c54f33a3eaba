"""One redaction: credential headers by name, and secrets in every form they are written in."""

from __future__ import annotations

import json
from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from vivi_emulator.redaction import REDACTED, Redactor, is_credential_header


def test_credential_headers_are_known_by_name_in_any_case() -> None:
    assert is_credential_header("Vivi-Api-Key")
    assert is_credential_header("x-vivi-admin-token")
    assert not is_credential_header("content-type")


@given(st.text(min_size=4, max_size=30).filter(lambda s: s.strip() == s and REDACTED not in s))
def test_a_secret_is_removed_as_sent_url_encoded_and_json_escaped(secret: str) -> None:
    redact = Redactor([secret])
    for text in (
        f"key={secret}!",
        f"key={quote(secret, safe='')}",
        json.dumps({"message": f"my key is {secret}"}),
        json.dumps({"message": f"my key is {secret}"}, ensure_ascii=False),
    ):
        assert secret not in redact.text(text) or secret in REDACTED
        assert REDACTED in redact.text(text)


def test_a_key_with_quotes_and_backslashes_is_found_inside_raw_json() -> None:
    secret = 'k"e\\y-é'
    raw = json.dumps({"message": secret})
    assert secret not in raw  # escaped on the wire
    assert Redactor([secret]).text(raw) == json.dumps({"message": REDACTED})


def test_longer_secrets_go_first_and_values_are_walked() -> None:
    redact = Redactor(["abc", "abcdef"])
    assert redact.text("abcdef abc") == f"{REDACTED} {REDACTED}"
    data = {"abc": ["x abcdef", 3, None, {"k": "abc"}]}
    assert redact.value(data) == {REDACTED: [f"x {REDACTED}", 3, None, {"k": REDACTED}]}
    assert not Redactor([])
    assert Redactor([""]).text("anything") == "anything"


@given(
    st.text(min_size=4, max_size=12).filter(lambda s: REDACTED not in s),
    st.lists(st.text(max_size=8), max_size=4),
    st.lists(st.integers(0, 40), max_size=6),
)
def test_a_secret_cut_across_a_streams_chunks_is_removed_from_every_chunk(
    secret: str, around: list[str], cuts: list[int]
) -> None:
    text = secret.join([*around, ""]) if around else f"say {secret}"
    points = sorted({min(c, len(text)) for c in cuts})
    parts = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    redact = Redactor([secret])
    kept = redact.parts(parts)
    assert len(kept) == len(parts)
    assert secret not in "".join(kept)
    if secret in text:
        assert REDACTED in "".join(kept)


def test_two_secrets_side_by_side_are_both_removed() -> None:
    # Spans that touch (one ends where the other begins) do not overlap: both go.
    assert Redactor(["aaaa", "bcdef"]).text("aaaabcdef") == REDACTED + REDACTED
