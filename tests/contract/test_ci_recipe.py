"""The GitHub Actions recipe in docs/contract-testing.md: valid, gated, and using real options."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from vivi_emulator.cli import app as cli_app

DOC = Path(__file__).resolve().parents[2] / "docs" / "contract-testing.md"


def recipe() -> dict[Any, Any]:
    found = re.search(r"```yaml\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert found is not None
    data: dict[Any, Any] = yaml.safe_load(found.group(1))
    return data


def test_the_emulator_on_every_push_the_real_api_on_a_schedule_when_secrets_exist() -> None:
    data = recipe()
    triggers = data[True]  # YAML 1.1 reads the key `on` as true
    assert {"push", "schedule"} <= set(triggers)
    jobs = data["jobs"]
    assert "if" not in jobs["emulator"]
    assert jobs["real-api"]["needs"] == "secrets"
    assert jobs["real-api"]["if"] == "needs.secrets.outputs.present == 'true'"
    assert jobs["secrets"]["if"] == "github.event_name != 'push'"


def test_every_contract_option_in_the_recipe_exists() -> None:
    help_text = CliRunner().invoke(cli_app, ["contract", "--help"], terminal_width=200).output
    for job in recipe()["jobs"].values():
        for step in job["steps"]:
            command = step.get("run", "")
            if "vivi-emulator contract" not in command:
                continue
            options = [a for a in shlex.split(command) if a.startswith("--")]
            assert options
            for option in options:
                assert option in help_text, option
