"""The Redis store's URL: what redis-py is given, the key prefix, and the address for messages.

Apart from the client, so that naming the store (the ``serve`` banner) does not load redis-py.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit, urlunsplit

DEFAULT_PREFIX = "vivi:"


def where(url: str) -> str:
    """The store's address for messages: host, port and database, never a password."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or '/0'}"


def split_url(url: str) -> tuple[str, str]:
    """The URL redis-py takes, and the key prefix (``?prefix=``, an emulator option)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    prefix = query.pop("prefix", [DEFAULT_PREFIX])[0]
    rest = "&".join(f"{k}={v}" for k, values in query.items() for v in values)
    return urlunsplit(parts._replace(query=rest)), prefix
