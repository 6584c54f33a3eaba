"""``vivi-emulator fixtures ...``: check and describe scenario fixture files; fit a latency
profile to recordings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vivi_emulator.cli.params import Command, Group
from vivi_emulator.scenarios.latency import profile_yaml
from vivi_emulator.scenarios.loader import Problem, fixture_files, parse_file, read_folder
from vivi_emulator.scenarios.model import Scenario, scenario_schema_json

fixtures_app = typer.Typer(
    cls=Group,
    help="Check and describe scenario fixture files; fit a latency profile to recordings.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@fixtures_app.command("check", cls=Command)
def fixtures_check(
    folders: Annotated[
        list[Path], typer.Argument(help="Folders (or files) of scenario files.", metavar="PATH")
    ],
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


def _read(paths: list[Path]) -> tuple[list[Scenario], list[Problem]]:
    """The scenarios of files and folders of files, and every problem found."""
    scenarios: list[Scenario] = []
    problems: list[Problem] = []
    for given in paths:
        found = [given] if given.is_file() else fixture_files(given) if given.is_dir() else []
        if not found:
            problems.append(Problem(given, None, "no such folder, or no .yaml files in it"))
        for path in found:
            parsed, file_problems = parse_file(path)
            scenarios += parsed
            problems += file_problems
    return scenarios, problems


@fixtures_app.command("fit-latency", cls=Command)
def fixtures_fit_latency(
    recordings: Annotated[
        list[Path],
        typer.Argument(help="Recordings (files or folders) made by `record`.", metavar="PATH"),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the profile here.",
            metavar="FILE",
            show_default="print it",
        ),
    ] = None,
) -> None:
    """Fit a latency profile to recorded streams: the median and 99th percentile of their time
    to first token and of the gaps between tokens. Use it with `serve --latency FILE`."""
    scenarios, problems = _read(recordings)
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        raise typer.Exit(1)
    # Here, not at the top: `serve` starts faster without it (issue 22).
    from vivi_emulator.scenarios.latency_fit import NothingToFit, fit

    try:
        profile, measured = fit(scenarios)
    except NothingToFit as exc:
        typer.echo(f"vivi-emulator: {exc}", err=True)
        raise typer.Exit(1) from None
    text = (
        f"# Fitted by vivi-emulator fixtures fit-latency to {measured.streams} recorded streams "
        f"({len(measured.token_gap)} token gaps).\n"
        "# Use: vivi-emulator serve --latency <this file>\n" + profile_yaml(profile)
    )
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"{profile.describe()}\nwritten to {output}", err=True)


@fixtures_app.command("schema", cls=Command)
def fixtures_schema() -> None:
    """Print the JSON Schema of scenario files."""
    typer.echo(scenario_schema_json(), nl=False)
