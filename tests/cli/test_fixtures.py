"""`vivi-emulator fixtures check`: every problem of every file in one pass, in plain words, and a
non-zero exit status."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from vivi_emulator.cli import app

ROOT = Path(__file__).resolve().parents[2]


def test_check_reports_every_problem_of_every_file_in_one_pass(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "a.yaml").write_text("version: 1\nscenarios:\n  - name: a\n    text: [open\n")
    (one / "b.yaml").write_text(
        "version: 1\nscenarios:\n  - name: b\n    txt: hi\n"
        "  - name: c\n    text: ok\n    timing: {first_chunk_ms: -5}\n"
    )
    (one / "good.yaml").write_text("version: 1\nscenarios:\n  - {name: fine, text: ok}\n")
    (two / "c.yaml").write_text("version: 2\nscenarios: 3\n")
    missing = tmp_path / "nowhere"
    result = CliRunner().invoke(app, ["fixtures", "check", str(one), str(two), str(missing)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines == [
        f"{one / 'a.yaml'}:4: not valid YAML, column 11: a [ list is not closed with ]",
        f"{one / 'b.yaml'}:4: scenario 'b': txt: unknown field; did you mean 'text'? "
        "(every field: vivi-emulator fixtures schema)",
        f"{one / 'b.yaml'}:7: scenario 'c': timing.first_chunk_ms: must be at least 0",
        f"{two / 'c.yaml'}:1: version: must be 1",
        f"{two / 'c.yaml'}:2: scenarios: must be a list (items starting with '- ')",
        f"{missing}: no such folder, or no .yaml files in it",
        "6 problem(s) in 4 file(s)",
    ]


def test_check_of_valid_folders_says_so_and_exits_0() -> None:
    folder = ROOT / "docs" / "examples" / "fixtures"
    result = CliRunner().invoke(app, ["fixtures", "check", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.output.endswith("in 1 file(s): all valid\n")
