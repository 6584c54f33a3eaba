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
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, get_args, get_origin, get_type_hints

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.models import OptionInfo

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    # typer (0.29 on) carries its own copy of click: its commands' types are these.
    from typer._click.core import Context, Parameter

Options = TypeVar("Options", bound="DataclassInstance")


class LogLevel(StrEnum):
    """--log-level's choices: a wrong one is a usage error naming them, not a traceback."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


def options_command(
    options_type: type[Options],
) -> Callable[[Callable[[Options], None]], Callable[..., None]]:
    """A decorator: ``run(options)`` becomes a typer command taking the fields as options."""
    hints = get_type_hints(options_type, include_extras=True)
    for hint in hints.values():
        _no_type_on_flags(hint)
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


def _no_type_on_flags(hint: Any) -> None:
    """A flag (``--reload/--no-reload``) takes no value: --help shows no type for it, rather
    than typer's ``<bool>``."""
    if get_origin(hint) is not Annotated or get_args(hint)[0] not in (bool, bool | None):
        return
    for info in get_args(hint)[1:]:
        if isinstance(info, OptionInfo) and info.metavar is None:
            info.metavar = ""


class Command(TyperCommand):
    """A command whose --help shows words, not Python types: nothing beside a flag (--help
    included) and an argument's metavar (PATH) instead of ``<list[Path]>``."""

    def get_help_option(self, ctx: Context) -> TyperOption | None:
        return _plain_help(super().get_help_option(ctx))

    def get_params(self, ctx: Context) -> list[Parameter]:
        params = super().get_params(ctx)
        for param in params:
            if isinstance(param, TyperArgument) and param.metavar:
                # The metavar already names the argument in the first column.
                param.display_type_rich = _no_type  # type: ignore[method-assign]
        return params


class Group(TyperGroup):
    """A group of commands, its --help as plain as a command's."""

    def get_help_option(self, ctx: Context) -> TyperOption | None:
        return _plain_help(super().get_help_option(ctx))


def _plain_help(option: TyperOption | None) -> TyperOption | None:
    if option is not None:
        option.metavar = ""
    return option


def _no_type(ctx: Context) -> str | None:
    return None
