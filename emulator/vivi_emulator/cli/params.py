"""Commands whose options are one frozen dataclass.

A command with many options (``contract`` has seventeen) takes them as one object. The dataclass
declares each option once: its name, its type and its ``typer.Option`` (in an ``Annotated``
type), and its default. :func:`options_command` turns a function of that object into a typer
command whose parameters are the dataclass's fields, so ``--help``, parsing and environment
variables are typer's own, and the command's code passes one value around.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import TYPE_CHECKING, Any, TypeVar, get_type_hints

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Options = TypeVar("Options", bound="DataclassInstance")


def options_command(
    options_type: type[Options],
) -> Callable[[Callable[[Options], None]], Callable[..., None]]:
    """A decorator: ``run(options)`` becomes a typer command taking the fields as options."""
    hints = get_type_hints(options_type, include_extras=True)
    parameters = [
        inspect.Parameter(
            item.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=inspect.Parameter.empty if item.default is MISSING else item.default,
            annotation=hints[item.name],
        )
        for item in fields(options_type)
        if item.init
    ]

    def decorate(run: Callable[[Options], None]) -> Callable[..., None]:
        def command(**values: Any) -> None:
            run(options_type(**values))

        command.__name__ = run.__name__
        command.__qualname__ = run.__qualname__
        command.__module__ = run.__module__
        command.__doc__ = run.__doc__
        # typer reads a command's options from its signature and annotations.
        command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        return command

    return decorate
