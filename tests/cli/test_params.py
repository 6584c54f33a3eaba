"""A command whose options are one frozen dataclass: typer sees the fields, the code one object."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from typer.testing import CliRunner

from vivi_emulator.cli.params import options_command


@dataclass(frozen=True, kw_only=True)
class Args:
    name: Annotated[str, typer.Option(help="Required.")]
    count: Annotated[int, typer.Option(help="At least one.", min=1)] = 3
    tag: Annotated[list[str] | None, typer.Option(help="Repeatable.")] = None
    out: Annotated[Path, typer.Option(envvar="PARAMS_OUT")] = Path("here")


received: list[Args] = []


@options_command(Args)
def greet(args: Args) -> None:
    """Greets; the docstring is the command's help."""
    received.append(args)


app = typer.Typer()
app.command()(greet)
app.command()(lambda: None)  # two commands, so `greet` is named on the command line


def test_the_fields_are_the_options_and_the_command_gets_one_object() -> None:
    received.clear()
    runner = CliRunner()
    done = runner.invoke(
        app, ["greet", "--name", "x", "--tag", "a", "--tag", "b"], env={"PARAMS_OUT": "/tmp/o"}
    )
    assert done.exit_code == 0, done.output
    assert received == [Args(name="x", count=3, tag=["a", "b"], out=Path("/tmp/o"))]
    assert runner.invoke(app, ["greet"]).exit_code == 2  # --name is required
    assert runner.invoke(app, ["greet", "--name", "x", "--count", "0"]).exit_code == 2
    help_text = runner.invoke(app, ["greet", "--help"], terminal_width=200).output
    assert "Greets; the docstring is the command's help." in help_text
    assert "--count" in help_text
    assert "Repeatable." in help_text
