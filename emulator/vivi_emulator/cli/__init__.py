"""``vivi-emulator``: the command line. Each command lives in a module of its own; this one
only assembles them."""

from __future__ import annotations

import typer

from vivi_emulator import __version__
from vivi_emulator.cli.fixtures import fixtures_app
from vivi_emulator.cli.journal import journal
from vivi_emulator.cli.serve import serve
from vivi_emulator.cli.wire import wire_test
from vivi_emulator.contract.cli import contract
from vivi_emulator.record.cli import record

app = typer.Typer(
    help="A local emulator of the VIVI API channel (channelsApi), for offline development, "
    "contract tests and demos.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(serve)
app.command()(contract)
app.command()(record)
app.command("wire-test")(wire_test)
app.command()(journal)
app.add_typer(fixtures_app, name="fixtures")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()
