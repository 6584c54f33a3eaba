"""``{{ name }}`` placeholders in scenario texts, filled from the request and its thread.

Deliberately tiny (no expressions, no loops): a fixture describes a reply, not a program. An
unknown name is an error when the fixture loads, not a surprise at request time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from vivi_emulator.errors import ReplyTooLarge
from vivi_emulator.scenarios.model import Reply, Scenario

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

VARIABLES = {
    "message": "the message sent",
    "threadId": "the thread's id",
    "userId": "the user id, or empty",
    "channelId": "the channel's id",
    "turn": "the turn number in the thread (1 for the first message)",
    "files": "the attached files' names, comma separated",
    "file_count": "how many files are attached",
    "previous_message": "the thread's previous message, or empty",
    "previous_reply": "the thread's previous reply, or empty",
}


def render(text: str, values: Mapping[str, str], limit: int | None = None) -> str:
    """``text`` with its placeholders filled. With ``limit``: ReplyTooLarge as soon as the result
    would pass ``limit`` characters, before it is built (a placeholder repeated many times, each
    a whole message, could make hundreds of megabytes)."""
    if limit is None:
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)
    size = len(text)

    def filled(match: re.Match[str]) -> str:
        nonlocal size
        value = values.get(match.group(1), match.group(0))
        size += len(value) - len(match.group(0))
        if size > limit:
            raise ReplyTooLarge(
                f"its reply would pass the limit of {limit} characters once its placeholders "
                "are filled"
            )
        return value

    return _PLACEHOLDER.sub(filled, text)


def _texts(reply: Reply) -> Iterator[str]:
    if reply.text is not None:
        yield reply.text
    for spec in reply.events or ():
        yield spec.message
        if spec.text is not None:
            yield spec.text


def is_templated(reply: Reply) -> bool:
    """Whether any text of the reply depends on the request."""
    return any(_PLACEHOLDER.search(text) for text in _texts(reply))


def _unknown(texts: Iterator[str]) -> list[str]:
    problems = []
    for text in texts:
        for name in _PLACEHOLDER.findall(text):
            if name not in VARIABLES:
                known = ", ".join(VARIABLES)
                problems.append(f"unknown placeholder {{{{{name}}}}} (known: {known})")
    return problems


def template_problems(scenario: Scenario) -> list[str]:
    return _unknown(text for r in [scenario, *(scenario.turns or ())] for text in _texts(r))


def _raw_texts(item: Any) -> Iterator[str]:
    """The templated texts of a scenario as written (valid or not): ``text`` and ``message``
    of the scenario, its events and its turns (not ``match``, which is no template)."""
    if not isinstance(item, dict):
        return
    for key in ("text", "message"):
        if isinstance(item.get(key), str):
            yield item[key]
    for key in ("events", "turns"):
        if isinstance(item.get(key), list):
            for inner in item[key]:
                yield from _raw_texts(inner)


def placeholder_problems(item: Any) -> list[str]:
    """Unknown placeholders in a scenario as written, so they are found even in a scenario
    with other problems (every problem of a file is reported at once)."""
    return _unknown(_raw_texts(item))
