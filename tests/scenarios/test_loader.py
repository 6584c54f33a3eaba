"""Loading fixture folders: errors with file and line, overrides by name, the shipped set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vivi_emulator.cli import app as cli_app
from vivi_emulator.resources import default_fixtures_dir
from vivi_emulator.scenarios.loader import FixtureError, load_scenarios, parse_file
from vivi_emulator.scenarios.model import scenario_schema_json

REQUIRED_DEFAULTS = {
    "greeting", "slow", "long", "tool-call", "rate-limited", "server-error",
    "disconnect", "stall", "malformed", "no-end", "echo",
}  # fmt: skip


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_shipped_defaults_load_and_include_the_required_names() -> None:
    scenarios = load_scenarios([default_fixtures_dir()])
    assert set(scenarios.names) >= REQUIRED_DEFAULTS
    assert scenarios.default is not None
    assert scenarios.default.name == "echo"


def test_shipped_json_schema_is_generated_from_the_models() -> None:
    shipped = (default_fixtures_dir() / "scenarios.schema.json").read_text()
    assert shipped == scenario_schema_json(), (
        "run: vivi-emulator fixtures schema > fixtures/scenarios.schema.json"
    )
    assert json.loads(shipped)["title"] == "vivi-emulator scenarios"


def test_user_folders_override_defaults_by_name_and_match_first(tmp_path: Path) -> None:
    write(
        tmp_path,
        "mine.yaml",
        "scenarios:\n"
        "  - {name: echo, default: true, text: 'mine'}\n"
        "  - {name: orders, match: {message: {contains: order}}, text: 'order status'}\n",
    )
    scenarios = load_scenarios([default_fixtures_dir(), tmp_path])
    assert scenarios.names[:2] == ["echo", "orders"]
    assert scenarios.names.count("echo") == 1
    assert scenarios.get("echo") is not None
    assert scenarios.get("echo").text == "mine"  # type: ignore[union-attr]
    assert "greeting" in scenarios.names
    assert scenarios.sources["orders"] == tmp_path / "mine.yaml"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        # The line where the list was opened, not the end of the file where YAML noticed.
        ("scenarios:\n  - name: a\n    text: [unclosed\n", 3, "a [ list is not closed"),
        ("scenarios:\n  - name: a\n    text: x\n    status: {code: 429}\n", 2, "exactly one of"),
        ("scenarios:\n  - name: a\n    text: x\n    timing: {chunk_ms: -5}\n", 4, "chunk_ms"),
        ("scenarios:\n  - name: a\n    tex: x\n", 3, "tex"),
        ("scenarios:\n  - name: a\n    match: {message: {regex: '('}}\n    text: x\n", 3, "regex"),
        ("scenarios:\n  - {name: a, text: x}\n  - {name: a, text: y}\n", 3, "defined twice"),
        ("scenarios:\n  - {name: a, text: '{{ nope }}'}\n", 2, "unknown placeholder"),
        ("", None, "empty"),
    ],
)
def test_problems_name_file_line_and_reason(
    tmp_path: Path, text: str, line: int | None, reason: str
) -> None:
    path = write(tmp_path, "f.yaml", text)
    scenarios, problems = parse_file(path)
    assert scenarios == []
    assert problems, "a broken file must report a problem"
    assert problems[0].file == path
    assert problems[0].line == line
    assert reason in problems[0].reason


def test_a_broken_file_fails_the_whole_load(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", "scenarios:\n  - {name: fine, text: ok}\n")
    write(tmp_path, "bad.yaml", "scenarios: nope\n")
    with pytest.raises(FixtureError) as raised:
        load_scenarios([tmp_path])
    assert "bad.yaml:1" in str(raised.value)


def test_fixtures_check_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli_app, ["fixtures", "check", str(default_fixtures_dir())])
    assert ok.exit_code == 0, ok.output
    assert "all valid" in ok.output
    write(
        tmp_path, "bad.yaml", "scenarios:\n  - name: x\n    text: y\n    fault: {omit_end: maybe}\n"
    )
    bad = runner.invoke(cli_app, ["fixtures", "check", str(tmp_path)])
    assert bad.exit_code == 1
    assert f"{tmp_path / 'bad.yaml'}:4: scenario 'x': fault.omit_end" in bad.output


def test_every_problem_of_a_file_in_one_pass_each_named_by_its_scenario(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "many.yaml",
        "scenarios:\n"
        "  - name: typo\n"  # 2: a placeholder typo in an otherwise valid scenario
        "    text: 'Hi {{ mesage }}'\n"
        "  - name: broken\n"  # 4
        "    text: x\n"
        "    timing: {chunk_ms: -1}\n"  # 6
        "    events: [{text: '{{ nope }}'}]\n"  # and a typo in the same scenario
        "  - name: fine\n"
        "    text: ok\n"
        "  - text: nameless\n",  # 10: no name
    )
    scenarios, problems = parse_file(path)
    assert scenarios == []
    found = [(p.line, p.reason.split(":")[0]) for p in problems]
    assert (2, "scenario 'typo'") in found
    assert (6, "scenario 'broken'") in found
    assert (4, "scenario 'broken'") in found  # the placeholder typo, at the scenario
    assert (10, "scenario #4") in found
    assert any("{{mesage}}" in p.reason for p in problems)
    assert any("{{nope}}" in p.reason for p in problems)
    assert any("timing.chunk_ms" in p.reason for p in problems)


def test_a_user_default_replaces_the_shipped_one(tmp_path: Path) -> None:
    write(tmp_path, "mine.yaml", "scenarios:\n  - {name: fallback, default: true, text: mine}\n")
    scenarios = load_scenarios([default_fixtures_dir(), tmp_path])
    assert scenarios.default is not None
    assert scenarios.default.name == "fallback"
    assert [s.name for s in scenarios.scenarios if s.default] == ["fallback"]
    assert scenarios.get("echo") is not None  # still there, by name


def test_one_users_folder_overriding_another_is_said_and_the_later_default_answers(
    tmp_path: Path,
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    write(
        one,
        "a.yaml",
        "scenarios:\n  - {name: same, text: a}\n  - {name: d1, default: true, text: a}\n",
    )
    write(
        two,
        "b.yaml",
        "scenarios:\n  - {name: same, text: b}\n  - {name: d2, default: true, text: b}\n",
    )
    scenarios = load_scenarios([default_fixtures_dir(), one, two])
    assert scenarios.get("same").text == "b"  # type: ignore[union-attr]
    assert scenarios.default is not None
    assert scenarios.default.name == "d2"
    assert [s.name for s in scenarios.scenarios if s.default] == ["d2"]
    assert scenarios.notes == (
        f"scenario 'same' of {one / 'a.yaml'} is overridden by the one of {two / 'b.yaml'} "
        "(a later folder)",
    )


def test_two_defaults_in_one_folder_are_a_problem(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "scenarios:\n  - {name: d1, default: true, text: a}\n")
    write(
        tmp_path,
        "b.yaml",
        "scenarios:\n  - {name: x, text: b}\n  - {name: d2, default: true, text: b}\n",
    )
    with pytest.raises(FixtureError) as raised:
        load_scenarios([default_fixtures_dir(), tmp_path])
    assert f"{tmp_path / 'b.yaml'}:3: scenario 'd2' is a second default" in str(raised.value)
    check = CliRunner().invoke(cli_app, ["fixtures", "check", str(tmp_path)])
    assert check.exit_code == 1
    assert "is a second default" in check.output


def test_serve_with_broken_fixtures_exits_2_with_reasons(tmp_path: Path) -> None:
    write(tmp_path, "bad.yaml", "scenarios:\n  - name: x\n")
    result = CliRunner().invoke(cli_app, ["serve", "--fixtures", str(tmp_path), "--port", "1"])
    assert result.exit_code == 2
    assert "bad.yaml:2" in result.output


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("scenarios:\n\t- name: a\n", 2, "a tab: YAML indents with spaces only"),
        ("scenarios:\n  - name: a\n    text: a: b\n", 3, "a ': ' inside an unquoted text"),
        ("scenarios:\n  - name: a\n    text: 'open\n", 3, "a quoted text is not closed"),
        ("scenarios:\n  - {name: a, text: x\n", 2, "a { mapping is not closed with }"),
        ("scenarios:\n  - name: a\n    txt: x\n", 3, "unknown field; did you mean 'text'?"),
        ("scenarios:\n  - name: a\n    text: x\n    timing: {chunk_ms: -5}\n", 4, "at least 0"),
        ("scenarios:\n  - name: a\n    status: {code: abc}\n", 3, "must be a whole number"),
        ("version: 2\nscenarios: []\n", 1, "version: must be 1"),
        ("scenarios: 3\n", 1, "scenarios: must be a list"),
    ],
)
def test_problems_are_in_plain_words(
    tmp_path: Path, text: str, line: int | None, reason: str
) -> None:
    # What is wrong and what is allowed, never the parser's or pydantic's own text.
    path = write(tmp_path, "f.yaml", text)
    _, problems = parse_file(path)
    assert [(p.line, reason in p.reason) for p in problems] == [(line, True)], problems
    for raw in ("Input should", "Extra inputs", "Field required", "did not find", "found "):
        assert raw not in problems[0].reason
