"""What a client sent that is secret, so the recorder removes it from everything it writes.

The API key is not the only secret a client may send through the proxy: an ``Authorization``
or ``Cookie`` header, a ``?token=`` in the query string, a ``"password"`` field in a JSON body.
The upstream may echo any of them in an answer (an error quoting the request, a debug header),
and an echo would land in the recording. :func:`client_secrets` finds them by name (the same
names :func:`named_like_a_credential` drops from the recorded headers), so the proxy's redactor
removes them, in every form, from every file it writes.

Values shorter than ``MIN_SECRET_CHARS`` are not learned: they cannot be told from ordinary
text, and removing them would mangle the recording (the API key is learned whatever its length).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl

from vivi_emulator.redaction import is_credential_header

MIN_SECRET_CHARS = 6
# How deep a JSON body is searched for fields named like credentials.
_MAX_DEPTH = 32

_NAMED_LIKE_A_CREDENTIAL = re.compile(
    r"authorization|cookie|api[-_]?key|token|secret|password|passwd|session|credential",
    re.IGNORECASE,
)


def named_like_a_credential(name: str) -> bool:
    """A header, parameter or field never written: a credential by name, or named like one."""
    return is_credential_header(name) or bool(_NAMED_LIKE_A_CREDENTIAL.search(name))


def _decoded(raw: bytes) -> Iterator[str]:
    """Header bytes have no declared encoding: both readings a client may have meant."""
    yield raw.decode("latin-1")
    try:
        yield raw.decode("utf-8")
    except UnicodeDecodeError:
        return


def _header_secrets(name: str, value: str) -> Iterator[str]:
    yield value
    if name == "cookie":
        for pair in value.split(";"):
            yield pair.strip().partition("=")[2]
    else:
        scheme, _, credentials = value.strip().partition(" ")  # Bearer <token>, Basic <...>
        if scheme and credentials:
            yield credentials.strip()


def _json_secrets(value: Any) -> Iterator[str]:
    stack: list[tuple[Any, int, bool]] = [(value, 0, False)]
    while stack:
        node, depth, secret = stack.pop()
        if isinstance(node, str):
            if secret:
                yield node
        elif isinstance(node, dict) and depth < _MAX_DEPTH:
            for key, item in node.items():
                stack.append((item, depth + 1, secret or named_like_a_credential(str(key))))
        elif isinstance(node, list) and depth < _MAX_DEPTH:
            stack += [(item, depth + 1, secret) for item in node]
        # Numbers are not learned: removing digits from a file of numbers (times, sizes) would
        # break it, and a secret is a string in every API this proxy fronts.


def _body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def client_secrets(headers: Iterable[tuple[bytes, bytes]], query: bytes, body: bytes) -> set[str]:
    """The secrets in a request: credential headers' values (and their tokens, and cookies'
    values), query parameters and JSON body fields named like credentials."""
    found: set[str] = set()
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        if named_like_a_credential(name):
            for value in _decoded(raw_value):
                found.update(_header_secrets(name, value))
    text = query.decode("latin-1")
    for key, value in parse_qsl(text, keep_blank_values=False):
        if named_like_a_credential(key):
            found.add(value)
    found.update(_json_secrets(_body(body)))
    return {secret for secret in found if len(secret) >= MIN_SECRET_CHARS}
