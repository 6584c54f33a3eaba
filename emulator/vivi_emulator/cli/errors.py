"""A command line given wrong: one or two plain lines naming the flag and what it allows.

typer (0.29 on) words its argument errors in pydantic's terms ("Input should be a valid
integer, unable to parse string as an integer") inside a box; ``usage_error`` says the same in
the words of the option's help, and where to read more.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # typer carries its own copy of click: its usage errors are of these classes.
    from typer._click.exceptions import UsageError

# pydantic's phrases, as the option's help words them (first match wins).
_PLAIN: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), words)
    for pattern, words in (
        (r"Input should be greater than or equal to (\S+?)\.?$", r"must be at least \1"),
        (r"Input should be greater than (\S+?)\.?$", r"must be more than \1"),
        (r"Input should be less than or equal to (\S+?)\.?$", r"must be at most \1"),
        (r"Input should be less than (\S+?)\.?$", r"must be less than \1"),
        (r"Input should be a valid integer.*$", "must be a whole number"),
        (r"Input should be a valid number.*$", "must be a number"),
        (r"Input should be a valid boolean.*$", "must be true or false"),
        (r"Input should be (.*)$", r"must be \1"),
        (r"Value error, ", ""),
        (r"(?:[Dd]ir|Directory) '(.+)' is a file\.", r"must be a folder; \1 is a file"),
        (r"File '(.+)' is a directory\.", r"must be a file; \1 is a folder"),
    )
)
_INVALID = re.compile(r"^Invalid value for '([^']+)': (.*)$", re.DOTALL)


def plain(message: str) -> str:
    """A usage error's message with pydantic's phrases in plain words."""
    for pattern, words in _PLAIN:
        message = pattern.sub(words, message)
    invalid = _INVALID.match(message)
    if invalid is not None:  # "Invalid value for '--port': must be ..." -> "--port must be ..."
        flag, why = invalid.groups()
        return f"{flag} {why}" if why.startswith("must ") else f"{flag}: {why}"
    return message


def usage_error(exc: UsageError) -> str:
    """The error in one line, and where the options are listed."""
    command = exc.ctx.command_path if exc.ctx is not None else "vivi-emulator"
    return f"{command}: {plain(exc.format_message())}\n  (options: {command} --help)"
