"""--help reads like a good tool's: every default shown, words for what an option takes (PORT,
SECONDS, URL) rather than Python types, options in groups, and an example."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from typer.core import TyperArgument, TyperOption
from typer.main import get_command
from typer.testing import CliRunner

from vivi_emulator.cli import app

# What typer shows for an option without a metavar: a Python type.
PYTHON_TYPE = re.compile(r"<(str|int|float|bool|path|list\[|[a-z]+ range)")


def _commands() -> Iterator[tuple[list[str], object]]:
    root = get_command(app)
    stack: list[tuple[list[str], object]] = [([], root)]
    while stack:
        path, command = stack.pop()
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            stack.append(([*path, name], sub))


COMMANDS = sorted(" ".join(path) for path, _ in _commands())


def _help(path: list[str]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_help_names_no_python_type(command: str) -> None:
    text = _help(command.split())
    assert not PYTHON_TYPE.findall(text), text


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_that_takes_a_value_shows_its_default_and_a_metavar(command: str) -> None:
    (found,) = [c for path, c in _commands() if " ".join(path) == command]
    for param in getattr(found, "params", []):
        if isinstance(param, TyperArgument):
            assert param.metavar, param.name
        if not isinstance(param, TyperOption) or param.is_flag or param.required:
            continue
        assert param.metavar or param.type_descriptor.is_choice, param.name
        assert param.default is not None or isinstance(param.show_default, str), param.name


def test_serve_help_groups_its_options_shows_defaults_and_an_example() -> None:
    text = _help(["serve"])
    for panel in ("Where it listens", "Replies", "Server, state and workers"):
        assert panel in text
    assert re.search(r"--port\s+PORT\s+Port to listen on\.[\s│]+\[default: \(8000\)\]", text)
    assert re.search(r"--time-scale\s+FACTOR", text)
    assert "Example: vivi-emulator serve --port 8080" in text


def test_contract_help_names_its_extra_and_its_units() -> None:
    text = _help(["contract"])
    assert "pip install 'vivi-emulator[contract]'" in text
    assert re.search(r"--stream-timeout\s+SECONDS", text)
    assert re.search(r"--url\s+URL", text)
    assert "-v" in text


def test_version_flag_and_command_print_the_one_version() -> None:
    from vivi_emulator import __version__

    for args in (["--version"], ["version"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0
        assert result.output == f"vivi-emulator {__version__}\n"
