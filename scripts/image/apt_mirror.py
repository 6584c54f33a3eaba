"""The Debian mirror apt uses on this host, read from its sources (one-line and deb822 formats).

Standard library only: scripts/image-smoke runs it (through smoke.py) on the CI host's python3,
to debootstrap the image's base from the one Debian registry reachable there.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterator

DEFAULT_MIRROR = "http://deb.debian.org/debian"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def _one_line_sources(text: str) -> Iterator[tuple[str, list[str]]]:
    """`deb [options] URI SUITE ...` lines; the options in brackets are dropped."""
    for line in text.splitlines():
        words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
        if len(words) >= 3 and words[0] == "deb":
            yield words[1], [words[2]]


def _deb822_sources(text: str) -> Iterator[tuple[str, list[str]]]:
    """Enabled `Types: deb` stanzas of a .sources file: each URI with the stanza's suites."""
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        enabled = fields.get("enabled", "yes").lower() != "no"
        if enabled and "deb" in fields.get("types", "").split():
            for uri in fields.get("uris", "").split():
                yield uri, fields.get("suites", "").split()


def _apt_sources() -> Iterator[tuple[str, list[str]]]:
    """(URI, suites) of every enabled apt source on this host, one-line and deb822 formats."""
    one_line = ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]
    for path in one_line:
        if (text := _read(path)) is not None:
            yield from _one_line_sources(text)
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        if (text := _read(path)) is not None:
            yield from _deb822_sources(text)


def mirror(suite: str) -> str:
    """The mirror that serves ``suite`` to apt here, without a trailing slash."""
    sources = list(_apt_sources())
    for uri, suites in sources:
        if suite in suites:
            return uri.rstrip("/")
    # Another suite from a Debian archive (not its security archive) serves ``suite`` as well.
    for uri, _ in sources:
        if "/debian" in uri and "security" not in uri:
            return uri.rstrip("/")
    return DEFAULT_MIRROR
