"""``vivi-emulator``: the command line. Each command lives in a module of its own; this one
only assembles them."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from vivi_emulator import __version__
from vivi_emulator.cli.contract import contract
from vivi_emulator.cli.errors import usage_error
from vivi_emulator.cli.fixtures import fixtures_app
from vivi_emulator.cli.journal import journal
from vivi_emulator.cli.params import Command, Group
from vivi_emulator.cli.record import record
from vivi_emulator.cli.serve import serve
from vivi_emulator.cli.wire import wire_test

app = typer.Typer(
    cls=Group,
    no_args_is_help=True,
    # Markdown: docstrings' lines join into paragraphs, `code` shows as code, and a literal
    # [contract] (an extra's name) is not taken for rich markup.
    rich_markup_mode="markdown",
    add_completion=False,
)
app.command(cls=Command)(serve)
app.command(cls=Command)(contract)
app.command(cls=Command)(record)
app.command("wire-test", cls=Command)(wire_test)
app.command(cls=Command)(journal)
app.add_typer(fixtures_app, name="fixtures")


def _print_version(given: bool) -> None:
    if given:
        typer.echo(f"vivi-emulator {__version__}")
        raise typer.Exit


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            metavar="",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """A local emulator of the VIVI API channel (channelsApi), for offline development, contract
    tests and demos.

    Start with `vivi-emulator serve` (http://127.0.0.1:8000, channel demo-channel, key
    demo-key); `vivi-emulator COMMAND --help` for each command.
    """


@app.command(cls=Command)
def version() -> None:
    """Print the version (as --version does)."""
    _print_version(True)


def main() -> None:
    """The ``vivi-emulator`` command: typer's run, with usage errors in plain words."""
    # typer's own copy of click: the class of every error it raises for a wrong command line.
    from typer._click.exceptions import ClickException, UsageError

    try:
        code = app(standalone_mode=False)
    except UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # no arguments: the help, as asked for
            exc.show()
        else:
            typer.echo(usage_error(exc), err=True)
        sys.exit(exc.exit_code)
    except ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("vivi-emulator: stopped", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
