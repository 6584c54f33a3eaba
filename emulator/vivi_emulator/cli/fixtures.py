"""``vivi-emulator fixtures ...``: check and describe scenario fixture files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vivi_emulator.scenarios.loader import Problem, fixture_files, parse_file, read_folder
from vivi_emulator.scenarios.model import scenario_schema_json

fixtures_app = typer.Typer(help="Check and describe scenario fixture files.", no_args_is_help=True)


@fixtures_app.command("check")
def fixtures_check(
    folders: Annotated[list[Path], typer.Argument(help="Folders (or files) of scenario files.")],
) -> None:
    """Validate fixture files; print every problem with file, line and reason (exit 1 if any)."""
    problems: list[Problem] = []
    count = files = 0
    for folder in folders:
        paths = [folder] if folder.is_file() else fixture_files(folder) if folder.is_dir() else []
        if not paths:
            problems.append(Problem(folder, None, "no such folder, or no .yaml files in it"))
            continue
        if folder.is_file():
            scenarios, found = parse_file(folder)
        else:  # a folder's files together: one name in two of them is a problem too
            layer, found = read_folder(folder)
            scenarios = [s for s, _ in layer]
        files += len(paths)
        count += len(scenarios)
        problems += found
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {files} file(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"{count} scenarios in {files} file(s): all valid")


@fixtures_app.command("schema")
def fixtures_schema() -> None:
    """Print the JSON Schema of scenario files."""
    typer.echo(scenario_schema_json(), nl=False)
