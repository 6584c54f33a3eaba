"""The servers the CLI runs the emulator on: the choices ``serve`` and ``wire-test`` offer."""

from __future__ import annotations

from typing import get_args

import pytest
from typer.testing import CliRunner

from vivi_emulator.cli import app as cli_app
from vivi_emulator.cli.servers import Server
from vivi_emulator.settings import ServerName


def test_the_choices_are_the_servers_the_settings_know() -> None:
    assert [s.value for s in Server] == list(get_args(ServerName))


@pytest.mark.parametrize("command", ["serve", "wire-test"])
def test_help_lists_every_server(command: str) -> None:
    # Wide enough that the help's table does not wrap the choices (rich reads COLUMNS).
    result = CliRunner().invoke(cli_app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "granian|granian-rsgi|uvicorn" in result.output


@pytest.mark.parametrize("command", ["serve", "wire-test"])
def test_an_unknown_server_is_refused_by_the_command_line(command: str) -> None:
    result = CliRunner().invoke(cli_app, [command, "--server", "nope"], terminal_width=200)
    assert result.exit_code == 2
    assert "Invalid value for '--server'" in result.output
    assert "granian" in result.output
    assert "uvicorn" in result.output
