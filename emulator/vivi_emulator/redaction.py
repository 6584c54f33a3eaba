"""Keeping secrets out of everything the emulator writes: the journal, recordings, reports.

One marker, one list of credential headers, one redactor. A secret is removed in every form a
client or a server may have written it in: as sent, URL-encoded, and escaped inside a JSON
string (``json.dumps`` escapes ``"`` and ``\\``, and with ``ensure_ascii`` any non-ASCII
character), so a key holding a quote or an accent is still found in a raw JSON body.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

REDACTED = "[redacted]"

# Headers whose values are credentials by name: never journaled, recorded or reported.
CREDENTIAL_HEADERS = frozenset(
    {
        "vivi-api-key",
        "x-vivi-admin-token",
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
    }
)


def is_credential_header(name: str) -> bool:
    return name.lower() in CREDENTIAL_HEADERS


def secret_forms(secret: str) -> set[str]:
    """The ways ``secret`` can appear in a text: as is, URL-encoded, JSON-escaped."""
    if not secret:
        return set()
    return {
        secret,
        quote(secret, safe=""),
        json.dumps(secret)[1:-1],  # escaped, non-ASCII as \\uXXXX
        json.dumps(secret, ensure_ascii=False)[1:-1],  # escaped, non-ASCII as is
    }


class Redactor:
    """Replaces every known secret, in each of its forms, with ``REDACTED``.

    Longer forms are replaced first, so a secret that contains another is removed whole. The
    forms are sorted once, when first used after a change (building a redactor of n secrets
    is O(n log n)); the journal builds one per version of the keys (``journaling``).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._all: set[str] = set()
        self._sorted: list[str] | None = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if not secret or secret in self._secrets:
            return
        self._secrets.add(secret)
        self._all |= secret_forms(secret)
        self._sorted = None

    @property
    def forms(self) -> list[str]:
        """Every form of every secret, longest first (sorted once after a change)."""
        forms = self._sorted
        if forms is None:
            forms = self._sorted = sorted(self._all, key=len, reverse=True)
        return forms

    def __bool__(self) -> bool:
        return bool(self._all)

    def text(self, text: str) -> str:
        # The sorted forms without the property's call once they are sorted: on every
        # request's path (journaling).
        for form in self._sorted or self.forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def _spans(self, text: str) -> list[tuple[int, int]]:
        """Where the secrets are in ``text``, longest forms first, never overlapping."""
        spans: list[tuple[int, int]] = []
        for form in self.forms:
            at = text.find(form)
            while at >= 0:
                end = at + len(form)
                if all(end <= a or at >= b for a, b in spans):
                    spans.append((at, end))
                at = text.find(form, at + 1)
        return sorted(spans)

    def parts(self, parts: Sequence[str]) -> list[str]:
        """The parts of one text (a stream's chunks), a secret split across parts included:
        the part where it starts shows the marker, the others lose their share of it."""
        joined = "".join(parts)
        spans = self._spans(joined) if self.forms else []
        if not spans:
            return list(parts)
        out, start = [], 0
        for part in parts:
            end = start + len(part)
            kept, at = [], start
            for a, b in spans:
                if b <= start or a >= end:
                    continue
                if a >= at:
                    kept.append(joined[at:a])
                    kept.append(REDACTED)
                at = max(at, min(b, end))
            kept.append(joined[at:end])
            out.append("".join(kept))
            start = end
        return out

    def value(self, value: Any) -> Any:
        """JSON-like data with every string (keys of objects included) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    __call__ = text
